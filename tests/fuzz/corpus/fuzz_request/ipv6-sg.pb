
r-5carol2001:db8:1::5"dev-c*-Mozilla/5.0 (X11; Linux x86_64) Firefox/120.00€Ð•ÿ¼18