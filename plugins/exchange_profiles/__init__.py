"""Import mapping profiles for real foreign shelter data (Japan's GSI lists, Nanao city's CSV), with their parsers."""
