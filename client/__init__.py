"""How every process of the product talks to Temporal (see ``client.cycles``)."""
