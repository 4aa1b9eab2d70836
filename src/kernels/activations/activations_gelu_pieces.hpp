#pragma once
// The fast gelu's tail polynomial on AVX-512 in pieces: P(t) = G(a)/t with t = 1/(1 + a/4),
// G(a) = Φ(−a)·e^(a²/2), as a polynomial in s = t − c_j on each interval j of t, its coefficients picked
// per lane by one permute each from tables indexed by the interval (one zmm register holds 8 doubles or
// 16 floats). Double: 8 intervals of width 0.91/7.9 from t = 0.09 (a ≤ 40 gives t ≥ 1/11), degree 9;
// float: 16 intervals of width 0.81/15.9 from t = 0.19 (a ≤ 16 gives t ≥ 1/5), degree 3. Against the one
// polynomial in t (degree 22 double, 9 float): 9 FMAs and 11 permutes (off the FMA pipes) instead of 22
// FMAs and t² (double), 3 FMAs and 5 permutes instead of 9 FMAs and t² (float). Fitted by mpmath
// (chebyfit) on each interval widened by 2 % (rounding may pick the neighbour at a boundary),
// coefficients rounded to T by tools/fit_gelu_pieces.py: relative error below 1.6e−16 (double), 1.2e−7 (float).
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "kernels/activations/activations_math.hpp"

namespace mlpkit::detail::simd::fast {

/** Coefficient tables of the pieces: entry [k][j] is interval j's coefficient of s^(degree−k). */
template <class T>
constexpr auto gelu_piece_coefficients() {
  if constexpr (std::is_same_v<T, float>) {
    return std::array<std::array<float, 16>, 4>{{
        {0.16097311675548553F, 0.18909062445163727F, 0.22147236764431F, 0.25828567147254944F, 0.29950231313705444F,
            0.34484657645225525F, 0.3937586843967438F, 0.4453830122947693F, 0.49858471751213074F, 0.551996648311615F,
            0.6040902137756348F, 0.6532629728317261F, 0.6979326009750366F, 0.736626923084259F, 0.7680618166923523F,
            0.7912007570266724F},
        {0.16879898309707642F, 0.19550198316574097F, 0.22682523727416992F, 0.26343512535095215F, 0.3060092628002167F,
            0.35520273447036743F, 0.4116068482398987F, 0.47570496797561646F, 0.5478276610374451F, 0.6281139850616455F,
            0.7164806723594666F, 0.8126038908958435F, 0.915915846824646F, 1.025613784790039F, 1.1406840085983276F,
            1.2599347829818726F},
        {0.15439319610595703F, 0.17290595173835754F, 0.19436779618263245F, 0.21928313374519348F, 0.2482251524925232F,
            0.2818354070186615F, 0.32081928849220276F, 0.36593756079673767F, 0.4179927706718445F, 0.4778118431568146F,
            0.5462248921394348F, 0.6240411996841431F, 0.7120249271392822F, 0.8108696937561035F, 0.9211767911911011F,
            1.043434739112854F},
        {0.1265369951725006F, 0.13486231863498688F, 0.14420387148857117F, 0.15472443401813507F, 0.16661424934864044F,
            0.18009452521800995F, 0.1954207718372345F, 0.21288593113422394F, 0.23282276093959808F, 0.25560569763183594F,
            0.28165143728256226F, 0.3114185035228729F, 0.3454056978225708F, 0.3841489255428314F, 0.4282172918319702F,
            0.47820770740509033F},
    }};
  } else {
    return std::array<std::array<double, 8>, 10>{{
        {-0.01182769728671404, -0.003623794849583763, 0.01700469639031524, 0.02941247768026292, 0.018625621412866573,
            -0.0037593504068978035, -0.018693399690105136, -0.01992191097395521},
        {-0.016209764172385635, -0.025594400423706698, -0.019071129967358116, 0.0067216677619472524,
            0.03345615774179962, 0.041224958838487785, 0.02843950141578557, 0.007377090046347142},
        {-0.0034543351224877402, -0.02342199228555244, -0.0458170374591245, -0.05260263443346071, -0.03313908471597467,
            0.0032339640734918157, 0.036631565240354276, 0.05323286227943892},
        {0.026680754264687835, 0.016451098428758762, -0.011860031591899235, -0.05316771922022835, -0.08942420541050355,
            -0.10196300867248703, -0.08507827573437078, -0.04752512310883102},
        {0.0662191047665861, 0.08205759821781879, 0.0847002776410702, 0.06255354509473565, 0.012365749263688452,
            -0.05547840598896927, -0.12167659190670001, -0.16827206013600243},
        {0.1037007619509187, 0.1467359512775944, 0.19569973847539185, 0.2394862430603351, 0.2622750805078053,
            0.25027886203489424, 0.1986971691569839, 0.1139447687273477},
        {0.12955225597694972, 0.1868934026544566, 0.2657205083172786, 0.3664668541811475, 0.4831764300266877,
            0.6027663970491037, 0.7076722527340157, 0.780732473999976},
        {0.1392497526279918, 0.19335484934979436, 0.27090746977779556, 0.3795551752996218, 0.5260550159806665,
            0.7138474995549885, 0.9409573222093235, 1.1992589443240331},
        {0.1335619448938103, 0.17149467805855584, 0.22445011541263246, 0.2987077912018673, 0.4022491415737314,
            0.5442779481420751, 0.7341967679609435, 0.9802419277285555},
        {0.11678687451971044, 0.1342371937484033, 0.1568703941675361, 0.1867616308850205, 0.22680935960582851,
            0.2809091638305089, 0.3540402882422469, 0.45221155550026865},
    }};
  }
}

/** The center c_j of each interval (s = t − c_j is exact: t and c_j lie within a factor of 2). */
template <class T>
constexpr auto gelu_piece_centers() {
  if constexpr (std::is_same_v<T, float>)
    return std::array<float, 16>{0.21547169983386993F, 0.2664150893688202F, 0.31735849380493164F, 0.3683018982410431F,
        0.41924527287483215F, 0.4701886773109436F, 0.5211320519447327F, 0.5720754861831665F, 0.6230188608169556F,
        0.6739622354507446F, 0.7249056696891785F, 0.7758490443229675F, 0.8267924785614014F, 0.8777358531951904F,
        0.9286792278289795F, 0.9796226620674133F};
  else
    return std::array<double, 8>{0.14759493670886076, 0.2627848101265823, 0.3779746835443038, 0.4931645569620253,
        0.6083544303797468, 0.7235443037974684, 0.8387341772151898, 0.9539240506329114};
}

template <class T>
constexpr T gelu_piece_start() {  // t of interval 0's lower end
  return std::is_same_v<T, float> ? T(0.19) : T(0.09);
}
template <class T>
constexpr T gelu_piece_width() {  // t = 1 lands in the last interval, not one past it
  return std::is_same_v<T, float> ? T((1.0 - 0.19) / 15.9) : T((1.0 - 0.09) / 7.9);
}

/**
 * P(t) (G(a) ≈ t·P(t)) for t in [1/11, 1] (double) or [1/5, 1] (float), AVX-512: the interval
 * j = round((t − start)/width − 1/2) in the low bits of an FMA and the shifter's sum, s = t − c_j, then
 * the piece's polynomial in s.
 */
template <class Arch, class T>
[[gnu::always_inline]] inline xsimd::batch<T, Arch> gelu_tail_pieces(const xsimd::batch<T, Arch>& t) {
  using B = xsimd::batch<T, Arch>;
  static_assert(ops::is_avx512<Arch>, "one permute per coefficient: AVX-512 only");
  constexpr T width = gelu_piece_width<T>();
  // (t − start)/width − 1/2 first, then the shifter: its spacing of 1 would round the offset itself.
  const B position = fmadd(t, B(T(1) / width), B(-gelu_piece_start<T>() / width - T(0.5)));
  const B index = position + B(shifter<T>());
  // Double: the tables are memory operands of the permutes (held in registers, the eleven of them spilled
  // the four batches in flight, see docs/tuning.md); float's five stay in registers.
  static constexpr auto centers = gelu_piece_centers<T>();
  static constexpr auto tables = gelu_piece_coefficients<T>();
  const auto permute = [&index](const auto& table) {
    if constexpr (std::is_same_v<T, double>) return ops::permute_low_bits_from_memory(table, index);
    else return ops::permute_low_bits(table, index);
  };
  const B s = t - permute(centers);
  const auto coefficient = [&permute](std::size_t k) { return permute(tables[k]); };
  return horner_steps(s, coefficient, std::make_index_sequence<tables.size() - 1>{});
}

}  // namespace mlpkit::detail::simd::fast
