// How much training work a frame may submit so that the frame time stays
// near a target: after each frame the budget grows by a tenth while the frame
// took under 80% of the target and shrinks by 15% once it took more than 95%.
// (A least-squares fit of frame time against work did worse on lavapipe: the
// step's levels are coarse and uneven, so the fit chased the outliers.) At
// least one segment goes out per frame whatever the budget: the step's
// levels are the finest grain.
#pragma once

namespace demo {

class FrameBudget {
public:
    FrameBudget(double target_ms, double step_flops)
        : target_ms_(target_ms), step_flops_(step_flops), budget_(step_flops / 8) {}

    double flops() const { return budget_; }
    // After a frame of training (not one that also evaluated or looked inside) that took `ms`.
    void update(double ms);

private:
    double target_ms_, step_flops_, budget_;
};

} // namespace demo
