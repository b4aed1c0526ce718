"""Tools around the container: tiny test models and the seed's naive server (benchmark baseline)."""
