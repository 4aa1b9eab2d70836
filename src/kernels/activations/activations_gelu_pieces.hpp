#pragma once
// The fast double gelu's tail polynomial on AVX-512 in eight pieces: P(t) = G(a)/t with t = 1/(1 + a/4),
// G(a) = Φ(−a)·e^(a²/2), as a degree-9 polynomial in s = t − c_j on each of eight intervals of width
// h = 0.91/7.9 from t = 0.09 (a ≤ 40 gives t ≥ 1/11), its coefficients picked per lane by vpermpd from
// eight-entry tables indexed by the interval. Against the one degree-22 polynomial in t: 9 FMAs and 11
// permutes (off the FMA pipes) instead of 22 FMAs and t². Fitted by mpmath (chebyfit, 40 digits) on each
// interval widened by 2 % (rounding may pick the neighbour at a boundary), coefficients rounded to double:
// relative error below 1.6e−16 (1.4 ULP) over every interval.
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <utility>

#include "kernels/activations/activations_math.hpp"

namespace mlpkit::detail::simd::fast {

/** Coefficient tables of the pieces: entry [k][j] is interval j's coefficient of s^(9−k). */
constexpr auto gelu_piece_coefficients() {
    return std::array<std::array<double, 8>, 10>{{
        {-0.01182769728671404, -0.003623794849583763, 0.01700469639031524, 0.02941247768026292, 0.018625621412866573, -0.0037593504068978035, -0.018693399690105136, -0.01992191097395521},
        {-0.016209764172385635, -0.025594400423706698, -0.019071129967358116, 0.0067216677619472524, 0.03345615774179962, 0.041224958838487785, 0.02843950141578557, 0.007377090046347142},
        {-0.0034543351224877402, -0.02342199228555244, -0.0458170374591245, -0.05260263443346071, -0.03313908471597467, 0.0032339640734918157, 0.036631565240354276, 0.05323286227943892},
        {0.026680754264687835, 0.016451098428758762, -0.011860031591899235, -0.05316771922022835, -0.08942420541050355, -0.10196300867248703, -0.08507827573437078, -0.04752512310883102},
        {0.0662191047665861, 0.08205759821781879, 0.0847002776410702, 0.06255354509473565, 0.012365749263688452, -0.05547840598896927, -0.12167659190670001, -0.16827206013600243},
        {0.1037007619509187, 0.1467359512775944, 0.19569973847539185, 0.2394862430603351, 0.2622750805078053, 0.25027886203489424, 0.1986971691569839, 0.1139447687273477},
        {0.12955225597694972, 0.1868934026544566, 0.2657205083172786, 0.3664668541811475, 0.4831764300266877, 0.6027663970491037, 0.7076722527340157, 0.780732473999976},
        {0.1392497526279918, 0.19335484934979436, 0.27090746977779556, 0.3795551752996218, 0.5260550159806665, 0.7138474995549885, 0.9409573222093235, 1.1992589443240331},
        {0.1335619448938103, 0.17149467805855584, 0.22445011541263246, 0.2987077912018673, 0.4022491415737314, 0.5442779481420751, 0.7341967679609435, 0.9802419277285555},
        {0.11678687451971044, 0.1342371937484033, 0.1568703941675361, 0.1867616308850205, 0.22680935960582851, 0.2809091638305089, 0.3540402882422469, 0.45221155550026865},
    }};
}

/** The center c_j of each interval (s = t − c_j is exact: t and c_j lie within a factor of 2). */
constexpr std::array<double, 8> gelu_piece_centers() {
  return {0.14759493670886076, 0.2627848101265823, 0.3779746835443038, 0.4931645569620253, 0.6083544303797468, 0.7235443037974684, 0.8387341772151898, 0.9539240506329114};
}

constexpr double kGeluPieceStart = 0.09;                  // t of interval 0's lower end
constexpr double kGeluPieceWidth = (1.0 - 0.09) / 7.9;    // t = 1 lands in interval 7, not 8

/** Horner's rule over the pieces' tables, highest degree first (an index fold, unrolled). */
template <class Arch, std::size_t... K>
[[gnu::always_inline]] inline xsimd::batch<double, Arch> gelu_pieces_horner(const xsimd::batch<double, Arch>& s,
                                                                           const xsimd::batch<double, Arch>& index,
                                                                           std::index_sequence<K...>) {
  constexpr auto tables = gelu_piece_coefficients();
  xsimd::batch<double, Arch> p = ops::permute_low_bits(tables[0], index);
  ((p = fmadd(p, s, ops::permute_low_bits(tables[K + 1], index))), ...);
  return p;
}

/**
 * P(t) (G(a) ≈ t·P(t)) for t in [1/11, 1], AVX-512: the interval j = round((t − 0.09)/h − 1/2) in the
 * low bits of an FMA and the shifter's sum, s = t − c_j, then degree 9 in s.
 */
template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<double, Arch> gelu_tail_pieces(const xsimd::batch<double, Arch>& t) {
  using B = xsimd::batch<double, Arch>;
  static_assert(ops::is_avx512<Arch>, "one vpermpd per coefficient: AVX-512 only");
  // (t − 0.09)/h − 1/2 first, then the shifter: its spacing of 1 would round the offset itself.
  const B position = fmadd(t, B(1.0 / kGeluPieceWidth), B(-kGeluPieceStart / kGeluPieceWidth - 0.5));
  const B index = position + B(shifter<double>());
  const B s = t - ops::permute_low_bits(gelu_piece_centers(), index);
  return gelu_pieces_horner(s, index, std::make_index_sequence<gelu_piece_coefficients().size() - 1>{});
}

}  // namespace mlpkit::detail::simd::fast
