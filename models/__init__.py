"""Types of the product: settings, program definitions, reference data and workflow messages."""
