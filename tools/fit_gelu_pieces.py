#!/usr/bin/env python3
"""Prints the fast GELU's piece tables of src/kernels/activations/activations_gelu_pieces.hpp.

P(t) = G(a)/t with t = 1/(1 + a/4) and G(a) = Phi(-a) * exp(a^2/2) is fitted on each interval j of t
(width w from t0) by a Chebyshev fit (mpmath.chebyfit) of the given degree in s = t - c_j, on the
interval widened by 2 % so that a lane rounded into its neighbour's interval is still in range.
Output: per type the centers and the coefficient tables, [k][j] = interval j's coefficient of
s^(degree - k), with each fit's maximum absolute error. Needs python3-mpmath.
"""
import struct

import mpmath as mp

mp.mp.dps = 40

# type, degree, t0, width, intervals
FITS = [("double", 9, mp.mpf("0.09"), mp.mpf("0.91") / mp.mpf("7.9"), 8),
        ("float", 3, mp.mpf("0.19"), mp.mpf("0.81") / mp.mpf("15.9"), 16)]


def p_of_t(t):
    a = 4 * (1 / t - 1)
    return mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2) / t


def to_float32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def rounded(x, type_name):
    return mp.mpf(float(x)) if type_name == "double" else mp.mpf(to_float32(x))


def literal(x, type_name):
    return repr(float(x)) if type_name == "double" else repr(to_float32(x)) + "F"


def wrapped(head, items, tail, indent):
    """head + the items joined by ", " + tail, broken into lines of at most 120 columns (as the header holds them)."""
    lines, current = [], indent + head
    for i, item in enumerate(items):
        piece = item + ("," if i + 1 < len(items) else tail)
        candidate = current + ("" if i == 0 else " ") + piece
        if len(candidate) > 120 and i > 0:
            lines.append(current)
            current = indent + "    " + piece
        else:
            current = candidate
    return "\n".join(lines + [current])


for type_name, degree, t0, width, count in FITS:
    centers, columns = [], []
    for j in range(count):
        # The center as the kernel holds it (rounded to T), so s = t - c_j is what the kernel computes.
        center = rounded(t0 + (j + mp.mpf("0.5")) * width, type_name)
        half = width / 2 * mp.mpf("1.02")
        coefficients, error = mp.chebyfit(lambda s, c=center: p_of_t(s + c), [-half, half], degree + 1, error=True)
        centers.append(center)
        columns.append(coefficients)
        print(f"// {type_name} interval {j}: max |error| {float(error):.3g}")
    print(f"// {type_name} centers:")
    print(wrapped("{", [literal(c, type_name) for c in centers], "}", "    "))
    for k in range(degree + 1):
        print(wrapped("{", [literal(columns[j][k], type_name) for j in range(count)], "},", "        "))
