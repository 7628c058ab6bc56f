// The browser demo's JavaScript API (embind): web::Session as a JS class
// whose methods take and return plain JS objects and typed arrays.
//   const s = new Module.Session(threads);
//   s.loadWeights(uint8Array, 'lenet5.safetensors') -> {key: value} metadata
//   s.predict(float32Array, width, height) -> {empty, image, box, centre, probabilities, top}
//   s.classify(float32Array of n 28x28 images in [0, 1], n) -> Float32Array(n * 10) logits
// A C++ error (vkcnn::Error) becomes a JS Error with its message, so the
// worker can show it; the session stays usable.
#include "session.h"

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <exception>
#include <string>

namespace vkcnn::web {

namespace {

using emscripten::val;

[[noreturn]] void throw_js(const char* message) { val::global("Error").new_(std::string(message)).throw_(); }

// Runs `f`, turning a C++ exception into a JS Error.
template <typename F>
val guarded(F&& f) {
    try {
        return f();
    } catch (const std::exception& e) {
        throw_js(e.what());
    }
}

template <typename T>
val typed_array(const char* type, std::span<const T> v) { // a copy: views into the heap die when it grows
    return val::global(type).new_(emscripten::typed_memory_view(v.size(), v.data()));
}
val floats(std::span<const float> v) { return typed_array("Float32Array", v); }

template <typename T>
std::vector<T> from_js(const val& array) {
    return emscripten::convertJSArrayToNumberVector<T>(array);
}

val shape_array(std::span<const int64_t> dims) {
    val a = val::array();
    for (int64_t d : dims) a.call<void>("push", static_cast<double>(d));
    return a;
}

val metadata_object(const io::Metadata& metadata) {
    val o = val::object();
    for (const auto& [key, value] : metadata) o.set(key, value);
    return o;
}

data::Split split_named(const std::string& name) {
    if (name == "train") return data::Split::Train;
    if (name == "test") return data::Split::Test;
    throw Error("unknown split '" + name + "'; splits: train, test");
}

class JsSession {
public:
    explicit JsSession(unsigned threads) : s_(threads) {}

    unsigned threads() const { return s_.threads(); }

    val layers() const {
        val a = val::array();
        for (const nn::LayerInfo& l : s_.layers()) {
            val o = val::object();
            o.set("path", l.path);
            o.set("shape", shape_array(std::span(l.shape.dims).subspan(1))); // without the batch
            a.call<void>("push", o);
        }
        return a;
    }

    val load_weights(const val& bytes, const std::string& source) {
        return guarded([&] {
            const std::vector<uint8_t> b = from_js<uint8_t>(bytes);
            return metadata_object(s_.load_weights(std::as_bytes(std::span(b)), source));
        });
    }

    val set_mnist(const std::string& split, const val& images, const val& labels, const std::string& source) {
        return guarded([&] {
            s_.set_mnist(split_named(split), from_js<uint8_t>(images), from_js<uint8_t>(labels), source);
            return val(true);
        });
    }

    bool has_mnist(const std::string& split) const { return s_.has_mnist(split_named(split)); }

    val use(const std::string& slot) {
        return guarded([&] {
            check(slot == "shipped" || slot == "trained", "unknown model '", slot, "'; models: shipped, trained");
            s_.use(slot == "trained" ? Slot::Trained : Slot::Shipped);
            return val(slot);
        });
    }

    val predict(const val& gray, int width, int height) {
        return guarded([&] {
            const Prediction p = s_.predict(from_js<float>(gray), width, height);
            const data::DigitImage& d = p.digit;
            val o = val::object(), box = val::object(), centre = val::object();
            box.set("x", d.box_x);
            box.set("y", d.box_y);
            box.set("width", d.box_width);
            box.set("height", d.box_height);
            centre.set("x", d.centre_x);
            centre.set("y", d.centre_y);
            o.set("empty", d.empty);
            o.set("image", floats(d.pixels));
            o.set("box", box);
            o.set("centre", centre);
            o.set("probabilities", floats(p.probabilities));
            o.set("top", p.top);
            o.set("model", s_.active() == Slot::Trained ? "trained" : "shipped");
            return o;
        });
    }

    val classify(const val& pixels, double n) {
        return guarded([&] { return floats(s_.classify(from_js<float>(pixels), static_cast<int64_t>(n))); });
    }

    val inspect(int cls) {
        return guarded([&] {
            const Inspection r = s_.inspect(cls);
            val o = val::object(), layers = val::array();
            for (const LayerMaps& l : r.layers) {
                val m = val::object();
                m.set("path", l.path);
                m.set("shape", shape_array(l.shape));
                m.set("data", floats(l.values));
                layers.call<void>("push", m);
            }
            o.set("cls", r.cls);
            o.set("activations", layers);
            o.set("saliency", floats(r.saliency));
            o.set("gradcam", floats(r.grad_cam));
            return o;
        });
    }

    val filters() const {
        return guarded([&] {
            std::array<int64_t, 4> shape{};
            const std::vector<float> w = s_.filters(shape);
            val o = val::object();
            o.set("shape", shape_array(shape));
            o.set("data", floats(w));
            return o;
        });
    }

    val nudge(int target) {
        return guarded([&] {
            const Nudge n = s_.nudge(target);
            val o = val::object();
            o.set("image", floats(n.image));
            o.set("probabilities", floats(n.probabilities));
            o.set("top", n.top);
            o.set("steps", n.steps);
            o.set("reached", n.steps >= 0);
            return o;
        });
    }

    val nearest(int k) {
        return guarded([&] {
            val a = val::array();
            for (const Neighbour& nb : s_.nearest(k)) {
                val o = val::object();
                o.set("index", static_cast<double>(nb.index));
                o.set("label", nb.label);
                o.set("distance", nb.distance);
                o.set("image", floats(nb.image));
                a.call<void>("push", o);
            }
            return a;
        });
    }

    val start_training(const val& options) {
        return guarded([&] {
            TrainOptions t;
            if (options["lr"].isNumber()) t.lr = options["lr"].as<double>();
            if (options["batch"].isNumber()) t.batch = static_cast<int64_t>(options["batch"].as<double>());
            if (options["seed"].isNumber()) t.seed = static_cast<uint64_t>(options["seed"].as<double>());
            if (options["epochs"].isNumber()) t.epochs = options["epochs"].as<int>();
            if (options["shuffle"].isTrue() || options["shuffle"].isFalse()) t.shuffle = options["shuffle"].as<bool>();
            s_.start_training(t);
            return val(true);
        });
    }

    bool training() const { return s_.training(); }

    val set_learning_rate(double lr) {
        return guarded([&] {
            s_.set_learning_rate(lr);
            return val(lr);
        });
    }

    val train_for(double budget_ms) {
        return guarded([&] {
            const TrainProgress p = s_.train_for(budget_ms);
            val o = val::object();
            o.set("step", static_cast<double>(p.step));
            o.set("epoch", p.epoch);
            o.set("epochs", p.epochs);
            o.set("samples", static_cast<double>(p.samples));
            o.set("loss", p.loss);
            o.set("accuracy", p.accuracy);
            o.set("imagesPerSecond", p.images_per_second);
            if (p.test_accuracy) o.set("testAccuracy", *p.test_accuracy);
            o.set("done", p.done);
            return o;
        });
    }

    val train_steps(double steps) {
        return guarded([&] { return floats(s_.train_steps(static_cast<int64_t>(steps))); });
    }

    val add_example(int label) {
        return guarded([&] { return val(static_cast<double>(s_.add_example(label))); });
    }

    val fine_tune(double steps, double lr) {
        return guarded([&] { return floats(s_.fine_tune(static_cast<int64_t>(steps), lr)); });
    }

private:
    Session s_;
};

} // namespace

EMSCRIPTEN_BINDINGS(vkcnn_web) {
    emscripten::class_<JsSession>("Session")
        .constructor<unsigned>()
        .function("threads", &JsSession::threads)
        .function("layers", &JsSession::layers)
        .function("loadWeights", &JsSession::load_weights)
        .function("setMnist", &JsSession::set_mnist)
        .function("hasMnist", &JsSession::has_mnist)
        .function("use", &JsSession::use)
        .function("predict", &JsSession::predict)
        .function("classify", &JsSession::classify)
        .function("inspect", &JsSession::inspect)
        .function("filters", &JsSession::filters)
        .function("nudge", &JsSession::nudge)
        .function("nearest", &JsSession::nearest)
        .function("startTraining", &JsSession::start_training)
        .function("training", &JsSession::training)
        .function("setLearningRate", &JsSession::set_learning_rate)
        .function("trainFor", &JsSession::train_for)
        .function("trainSteps", &JsSession::train_steps)
        .function("addExample", &JsSession::add_example)
        .function("fineTune", &JsSession::fine_tune);
}

} // namespace vkcnn::web
