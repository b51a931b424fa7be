
r-3bob
198.18.3.7"dev-t*-Mozilla/5.0 (X11; Linux x86_64) Firefox/120.00€Ð•ÿ¼18Bhunter2