"""The admin's mapping language: schema, loader with precise errors, gap finder."""
