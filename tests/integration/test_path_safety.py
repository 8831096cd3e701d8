"""Path safety (placeholder until its scenario is written)."""
import wasptest
wasptest.main(lambda t: wasptest.skip("not written yet"))
