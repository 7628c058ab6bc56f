// sin and cos to within about 2 ulp on every driver. GLSL's builtins are only
// required to be within 2^-11 absolute on [-pi, pi] (Vulkan's precision
// table), and drivers use that room: SwiftShader's are about 3e-5 off, where
// lavapipe's are within 1e-7. Kernels whose result the CPU backend has to
// match closely (augment's rotation) call this instead. Cody-Waite reduction
// by multiples of pi/2 (the three-part split of Cephes' sinf, so q * part is
// exact for |q| < 2^8), then Cephes' minimax polynomials on [-pi/4, pi/4].
// Valid for |x| < 400.

void sin_cos(float x, out float s, out float c) {
    precise float q = floor(x * 0.63661977236758134 + 0.5); // nearest multiple of pi/2
    precise float r = ((x - q * 1.5703125) - q * 4.837512969970703125e-4) - q * 7.54978995489188216e-8;
    precise float z = r * r;
    precise float sr = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    precise float cr = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z -
                       0.5 * z + 1.0;
    int quadrant = int(q) & 3; // two's complement: -1 & 3 == 3
    s = quadrant == 0 ? sr : quadrant == 1 ? cr : quadrant == 2 ? -sr : -cr;
    c = quadrant == 0 ? cr : quadrant == 1 ? -sr : quadrant == 2 ? -cr : sr;
}
