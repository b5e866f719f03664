"""Types of the product: settings, program definitions, workflow messages and database records."""
