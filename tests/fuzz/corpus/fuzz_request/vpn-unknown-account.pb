
r-4nobody@example.com
198.18.2.90˜È•ÿ¼18