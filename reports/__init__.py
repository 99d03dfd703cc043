"""The policy-decision report (lifecycle step 7): one read model, three renderings.

Public, stable entry points (the API route, the CLI and the web pages use only these)::

    from reports.read_model import build          # (session, proposal_id, now=None)
    report = build(session, proposal_id)          #   -> reports.model.PolicyReport

    reports.render_html.render(report)   -> str   one self-contained HTML page
    reports.render_json.render(report)   -> str   JSON (money as decimal strings)
    reports.render_json.to_data(report)  -> dict  the same, as data; .schema() its schema
    reports.render_md.render(report)     -> str   Markdown
    reports.charts.all_charts(report)    -> (Chart, Chart, Chart)  inline SVG, accessible
    reports.fmt.FILTERS                           how every figure is written (Jinja2)

Modules: `model` (the dataclass tree), `read_model` (building it), `queries` (its SQL),
`series` (bounded summaries of a trade history), `flags` (thresholds), `charts`, `fmt`,
`render_html`, `render_json`, `render_md`; templates in ``reports/templates``.
"""
