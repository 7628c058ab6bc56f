// Checks a scripted run of vkcnn-demo (tests/demo/scripted_run.sh): its
// report (vkcnn-demo --report) and its screenshot. The loss fell, there was
// no validation message, the screenshot has the window's size and is not
// blank, and where the report says the curves, filters, activation maps,
// attributions, the drawing pad, the confusion matrix and the gallery were
// drawn, the pixels are not uniform: something was drawn there.
#include <vkcnn/core/error.h>
#include <vkcnn/io/image.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    failures += !ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: %s REPORT.json SCREENSHOT.png MIN_STEPS [--resized]\n", argv[0]);
        return 2;
    }
    const bool resized = argc == 5 && std::string(argv[4]) == "--resized";
    try {
        const nlohmann::json r = nlohmann::json::parse(std::ifstream(argv[1]));
        const vkcnn::io::Image image = vkcnn::io::read_image(argv[2]);
        const uint64_t min_steps = std::stoull(argv[3]);
        const double first = r.at("first_loss"), last = r.at("last_loss");
        expect(r.at("steps").get<uint64_t>() >= min_steps, "trained " + r.at("steps").dump() + " steps");
        expect(last < 0.7 * first, "the loss fell: " + std::to_string(first) + " -> " + std::to_string(last));
        expect(r.at("validation_messages") == 0, "validation messages: " + r.at("validation_messages").dump());
        expect(r.at("inspector_refreshes").get<int>() > 1, "the inside views were redrawn " +
                                                              r.at("inspector_refreshes").dump() + " times");
        expect(image.width == r.at("window")[0] && image.height == r.at("window")[1],
               "the screenshot is " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                   ", the window " + r.at("window").dump());
        expect(image.channels >= 3, "the screenshot has colour");
        if (resized)
            expect(r.at("swapchains").get<int>() >= 3, "the swapchain was recreated for the resize and back: " +
                                                           r.at("swapchains").dump() + " swapchains");

        // Distinct colours and the spread of grey in a rectangle of the screenshot.
        const auto survey = [&](double x, double y, double w, double h, size_t& colours, double& spread) {
            std::set<uint32_t> seen;
            double sum = 0, sum2 = 0, n = 0;
            for (uint32_t py = uint32_t(std::max(0.0, y)); py < std::min<double>(image.height, y + h); ++py)
                for (uint32_t px = uint32_t(std::max(0.0, x)); px < std::min<double>(image.width, x + w); ++px) {
                    const uint8_t* p = &image.pixels[(size_t(py) * image.width + px) * image.channels];
                    seen.insert(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16);
                    const double g = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                    sum += g;
                    sum2 += g * g;
                    ++n;
                }
            colours = seen.size();
            spread = n > 0 ? std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n))) : 0;
        };
        size_t colours = 0;
        double spread = 0;
        survey(0, 0, image.width, image.height, colours, spread);
        expect(colours > 200 && spread > 10, "the screenshot is not blank: " + std::to_string(colours) +
                                                 " colours, grey spread " + std::to_string(spread));
        for (const char* region : {"plot:loss", "plot:accuracy", "image:filters", "image:activations",
                                   "image:attribution", "image:pad", "Confusion matrix", "Misclassified",
                                   "Weights and gradients", "Speed"}) {
            if (!r.at("regions").contains(region)) {
                expect(false, std::string("the report has region ") + region);
                continue;
            }
            const auto& q = r.at("regions").at(region);
            survey(q[0], q[1], q[2], q[3], colours, spread);
            expect(colours >= 8 && spread > 3, std::string(region) + " " + q.dump() + " is drawn: " +
                                                   std::to_string(colours) + " colours, grey spread " +
                                                   std::to_string(spread));
        }
    } catch (const std::exception& e) {
        std::printf("FAILED: %s\n", e.what());
        return 1;
    }
    return failures ? 1 : 0;
}
