
r-7erin
198.19.0.1"dev-e*-Mozilla/5.0 (X11; Linux x86_64) Firefox/120.00Àùœÿ¼18