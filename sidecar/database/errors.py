"""What the two engines raise alike."""


class IntegrityError(Exception):
    "A statement broke a UNIQUE, PRIMARY KEY, FOREIGN KEY or CHECK constraint"
