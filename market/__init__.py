"""Everything traded: LMSR math (pure), welfare assets, conditional cash, trading services."""
