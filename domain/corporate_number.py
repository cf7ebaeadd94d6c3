"""Japan's corporate number (法人番号): 13 digits, the first a check digit over the other twelve.

The rule is the National Tax Agency's: with the twelve base digits read from the right as P1..P12 and
weights Q = 1 for odd n, 2 for even n, the check digit is 9 - (sum(Pn * Qn) mod 9).
"""

from __future__ import annotations


def weighted_sum(digits: str, position: int = 1) -> int:
    """sum(Pn * Qn) over `digits`, its last digit being Pn for n = `position` (the base's last digit is P1).

    The sum over a whole base is the sum over its parts, each with the position of its last digit: a generator
    of millions of numbers adds up precomputed parts instead of reading every digit of every number.
    """
    return sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(digits), start=position))


def check_digit_of_sum(total: int) -> int:
    """The check digit of a base whose weighted digit sum is `total`."""
    return 9 - total % 9


def check_digit(base: str) -> int:
    """The check digit of a twelve-digit base number."""
    if len(base) != 12 or not base.isascii() or not base.isdigit():
        raise ValueError("a corporate number's base is 12 digits")
    return check_digit_of_sum(weighted_sum(base))


def with_check_digit(base: str) -> str:
    """The full thirteen-digit corporate number for a twelve-digit base."""
    return f"{check_digit(base)}{base}"


def corporate_number_problem(number: str) -> str | None:
    """Why `number` is not a valid corporate number, or None when it is."""
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return "a corporate number is exactly 13 digits"
    if int(number[0]) != check_digit(number[1:]):
        return f"check digit {number[0]} is wrong (expected {check_digit(number[1:])})"
    return None
