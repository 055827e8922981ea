"""Password hashing: Argon2id with parameters measured for a small (2-core) server.

Django's own Argon2 defaults (time 2, memory 100 MiB, parallelism 8) took 185 ms and
100 MiB per hash on the 2-core reference machine; a few concurrent sign-ins would take a
worker's memory. These are OWASP's first recommended set (m=19 MiB, t=2, p=1): 26 ms
median, 40 ms worst of five, 19 MiB per hash (docs/operations.md, "Passwords"). A stored
hash with other parameters, or another algorithm, is rehashed with these at the next
successful sign-in (Django's ``must_update``).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2PasswordHasher


class Argon2PasswordHasher(DjangoArgon2PasswordHasher):
    time_cost = 2
    memory_cost = 19_456  # KiB
    parallelism = 1
