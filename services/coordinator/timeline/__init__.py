"""The decision log (what the coordinator decided about a lead, and why) and its timeline."""
