"""The tms-assistant's own Python package: NLU components, channels, widget and tooling."""
