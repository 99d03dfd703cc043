// An in-page accessibility check (axe-core is not available offline): returns a list of
// problems, each a sentence naming the element. It checks what the issue asks for:
// - the document: a language and a title;
// - headings: exactly one h1, none empty, no level skipped on the way down;
// - forms: every visible input, select and textarea has a label (label[for], a wrapping
//   label, aria-label or aria-labelledby); every button and link has a name;
// - images: every <img> has alt; every role="img" <svg> has a title or aria name;
// - ids are unique (labels and aria references depend on it);
// - contrast (WCAG 2.x AA): every visible text outside the charts against its composited
//   background, 4.5:1, or 3:1 for large text (24px, or 18.66px bold); disabled controls
//   are exempt, as WCAG says.
() => {
  const problems = [];
  const describe = (el) => {
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return `<${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}> "${text}"`;
  };
  const shown = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.display !== "none" && style.visibility !== "hidden" && box.width > 0 && box.height > 0;
  };

  if (!document.documentElement.lang) problems.push("the page has no lang attribute");
  if (!document.title.trim()) problems.push("the page has no title");

  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  const ones = headings.filter((h) => h.tagName === "H1").length;
  if (ones !== 1) problems.push(`${ones} h1 headings (one expected)`);
  let previous = 0;
  for (const h of headings) {
    const level = Number(h.tagName[1]);
    if (!h.textContent.trim()) problems.push(`empty heading ${describe(h)}`);
    if (previous && level > previous + 1) problems.push(`${describe(h)} skips from h${previous} to h${level}`);
    previous = level;
  }

  for (const field of document.querySelectorAll("input, select, textarea")) {
    if (field.type === "hidden" || !shown(field)) continue;
    const labelled =
      (field.id && document.querySelector(`label[for="${CSS.escape(field.id)}"]`)) ||
      field.closest("label") || field.getAttribute("aria-label") || field.getAttribute("aria-labelledby");
    if (!labelled) problems.push(`unlabelled field ${field.tagName.toLowerCase()}[name=${field.name}]`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push(`nameless ${describe(el)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`image without alt: ${img.src}`);
  }
  for (const svg of document.querySelectorAll('svg[role="img"]')) {
    if (!(svg.getAttribute("aria-label") || svg.getAttribute("aria-labelledby") || svg.querySelector("title"))) {
      problems.push("a chart without a title");
    }
  }
  const ids = new Map();
  for (const el of document.querySelectorAll("[id]")) ids.set(el.id, (ids.get(el.id) || 0) + 1);
  for (const [id, n] of ids) if (n > 1) problems.push(`id "${id}" is used ${n} times`);

  const parse = (css) => {
    const m = css.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[,\s/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let colour = { r: 255, g: 255, b: 255, a: 1 };
    for (const c of layers.reverse()) colour = over(c, colour);
    return colour;
  };
  const luminance = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue;
    seen.add(el);
    if (el.closest("svg, script, style") || el.closest("[disabled]") || !shown(el)) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) problems.push(`contrast ${ratio.toFixed(2)}:1 < ${needed}:1 for ${describe(el)}`);
  }
  return problems;
}
