"""The measurements of one run, each against a started Stack: intake, drain, e2e (paced and serial), followup."""
