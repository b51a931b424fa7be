
r-1alice
192.0.2.10"dev-a*-Mozilla/5.0 (X11; Linux x86_64) Firefox/120.00 û‘ÿ¼18