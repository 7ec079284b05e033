"""Queries, one module per table. Every query on tenant data takes the MSP id."""
