
r-2alice203.0.113.5"dev-a*-Mozilla/5.0 (X11; Linux x86_64) Firefox/120.00Πε“ÿΌ18