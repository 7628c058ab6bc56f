// Multi-tensor optimizer steps: compiled with -DVKCNN_MULTI_TENSOR, an
// optimizer shader steps many parameter tensors in one dispatch. Its n
// elements are the tensors one after another; a table (the last binding)
// says where each tensor starts in that flat index space and where each of
// its operands (p, grad, state...) lies in the operand's binding:
//   table[0] = tensors; tensor t's entry at table[1 + t * (1 + OPERANDS)]:
//   its first flat index, then OPERANDS element offsets.
// Without the define, operand k of element e is at e (one flat range).
#ifdef VKCNN_MULTI_TENSOR
layout(std430, set = 0, binding = TABLE_BINDING) readonly buffer Table { uint table[]; };

// The tensor holding flat element e: the last whose start is <= e.
uint tensor_of(uint e) {
    uint lo = 0, hi = table[0] - 1;
    while (lo < hi) {
        uint mid = (lo + hi + 1) / 2;
        if (table[1 + mid * (1 + OPERANDS)] <= e) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
#define OPERAND_INDEX(e, t, k) ((e) - table[1 + (t) * (1 + OPERANDS)] + table[2 + (t) * (1 + OPERANDS) + (k)])
#define LOCATE_TENSOR(e) uint tensor_ = tensor_of(e)
#define OPERAND(e, k) OPERAND_INDEX(e, tensor_, k)
#else
#define LOCATE_TENSOR(e)
#define OPERAND(e, k) (e)
#endif
