"""The site's own benign traffic, one module per kind (every frame labelled ``Normal``)."""
