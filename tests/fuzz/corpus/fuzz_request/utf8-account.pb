
r-8josé@exämple.org198.18.4.200"dév*UA ☃0�Е��18