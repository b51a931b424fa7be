
r-6dave::ffff:198.51.100.7"dev-d0€Ð•ÿ¼18BSummer2024!