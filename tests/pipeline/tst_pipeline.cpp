// core/pipeline: requests and their records, A1111 parameters, the cost model, devices, file hashes,
// and the engine end to end on the built-in demo model.
#include "core/test_util.h"
#include "fixtures/demo_model.h"
#include "fixtures/random_weights.h"
#include "image/image_io.h"
#include "io/file_hash.h"
#include "io/safetensors.h"
#include "models/lora.h"
#include "models/vae_config.h"
#include "models/vae_tiny.h"
#include "pipeline/cost_model.h"
#include "pipeline/engine.h"
#include "pipeline/generation_request.h"
#include "sampling/preset_library.h"
#include "session/run_output.h"
#include "session/session.h"
#include "util/device.h"
#include "util/error.h"

#include <QtTest>

using namespace swd;

namespace {

Schedule smallSwd() {
    Schedule s = PresetLibrary::builtin().get("swd-2b-4step");
    s.scales = {8, 12, 16};
    s.sigmas = {1.0, 0.9454, 0.7904, 0.0};
    return s;
}

Schedule smallFull() {
    Schedule s = makeFullResolutionSchedule(3, 3.0, 16, 4.5, 256);
    s.name = "small full resolution";
    return s;
}

GenerationRequest request(const Schedule& s, std::uint64_t seed) {
    GenerationRequest r;
    r.prompt = "a lighthouse at dusk";
    r.negativePrompt = "blurry";
    r.seed = seed;
    r.schedule = s;
    r.useAdapter = s.sampler == SamplerKind::ScaleWise;
    r.precision = Precision::FP32;
    r.label = s.sampler == SamplerKind::ScaleWise ? "SwD" : "Full resolution";
    return r;
}

struct RecordingObserver : GenerationObserver {
    std::vector<StepEvent> steps;
    std::vector<Stage> stages;
    std::function<void(const StepEvent&)> onEach;
    void onStage(Stage s, const std::string&) override { stages.push_back(s); }
    void onStep(const StepEvent& e) override {
        steps.push_back(e);
        if (onEach) onEach(e);
    }
};

bool sameImage(const RgbImageF& a, const RgbImageF& b) {
    return a.width == b.width && a.height == b.height && a.data == b.data;
}

// A preset shortened for the test's time: its sampler, id, name and family, at latent side `scale` and
// (Euler discrete) `steps` steps.
Schedule shortened(const std::string& id, int scale, int steps = 0) {
    const Schedule p = PresetLibrary::builtin().get(id);
    Schedule s = p.sampler == SamplerKind::Sid
                     ? makeSidSchedule(p.sidTInit, p.sidGridSteps, *p.steps, scale, p.sidNoise)
                     : makeEulerDiscreteSchedule(steps, scale, p.guidance);
    s.id = p.id;
    s.name = p.name;
    s.family = p.family;
    s.compareWith = p.compareWith;
    return s;
}

bool allFinite(const RgbImageF& image) {
    return std::all_of(image.data.begin(), image.data.end(), [](float v) { return std::isfinite(v); });
}

}  // namespace

class TestPipeline : public QObject {
    Q_OBJECT

    swd::test::ScratchDir m_demoDir;
    std::unique_ptr<Engine> m_engine;

    Engine& engine() {
        if (!m_engine) {
            const auto dir = m_demoDir.file("demo");
            writeDemoModel(dir);
            EngineOptions o;
            o.precision = Precision::FP32;
            o.textPrecision = Precision::FP32;
            m_engine = std::make_unique<Engine>(demoModelSet(dir), o);
        }
        return *m_engine;
    }

private Q_SLOTS:
    void demoModelIsDeterministicAndComplete() {
        swd::test::ScratchDir dir;
        writeDemoModel(dir.file("a"));
        writeDemoModel(dir.file("b"));
        QVERIFY(isDemoModel(dir.file("a")));
        QCOMPARE(swd::test::readBytes(dir.file("a") / "transformer" / "diffusion_pytorch_model.safetensors"),
                 swd::test::readBytes(dir.file("b") / "transformer" / "diffusion_pytorch_model.safetensors"));
        std::filesystem::remove(dir.file("a") / "vae" / "diffusion_pytorch_model.safetensors");
        QVERIFY(!isDemoModel(dir.file("a")));
        SWD_EXPECT_ERROR(demoModelSet(dir.file("a")), "not a complete demo model", "make-demo-model");
        const ModelSet set = demoModelSet(dir.file("b"));
        QVERIFY(!set.realSize);
        QVERIFY(set.displayName.find("random weights") != std::string::npos);
        QVERIFY(set.adapter.has_value());
    }

    // The SD 1.5 / SDXL variants are part of the same deterministic demo, and each is needed for it to be
    // complete; their sets name the right folders and say they are random.
    void sdDemoVariantsAreDeterministicAndComplete() {
        swd::test::ScratchDir dir;
        writeDemoModel(dir.file("a"));
        writeDemoModel(dir.file("b"));
        for (const char* f :
             {"sdxl/unet/diffusion_pytorch_model.safetensors", "sdxl/text_encoder_2/model.safetensors",
              "sd15/unet/diffusion_pytorch_model.safetensors", "sd15/vae/diffusion_pytorch_model.safetensors",
              "sdxl/unet/config.json"})
            QCOMPARE(swd::test::readBytes(dir.file("a") / f), swd::test::readBytes(dir.file("b") / f));
        // Another seed, other weights.
        writeDemoModel(dir.file("c"), kDemoModelSeed + 7);
        QVERIFY(swd::test::readBytes(dir.file("a") / "sdxl/unet/diffusion_pytorch_model.safetensors") !=
                swd::test::readBytes(dir.file("c") / "sdxl/unet/diffusion_pytorch_model.safetensors"));
        const ModelSet xl = demoModelSet(dir.file("b"), ModelFamily::SDXL);
        QCOMPARE(xl.family, ModelFamily::SDXL);
        QVERIFY(!xl.realSize);
        QCOMPARE(xl.transformer, dir.file("b") / "sdxl" / "unet");
        QCOMPARE(xl.clipG, dir.file("b") / "sdxl" / "text_encoder_2");
        QCOMPARE(xl.parts.size(), std::size_t(4));
        QVERIFY(!xl.adapter.has_value());
        QVERIFY(xl.displayName.find("random weights") != std::string::npos);
        // The diffusers configs say what the loaders need: SDXL's UNet attends to CLIP-L + bigG states and
        // takes the pooled bigG vector + 6 time-id sinusoids; the VAEs have quant convs and their scaling.
        const UnetConfig xlUnet = UnetConfig::fromJson(xl.transformer / "config.json");
        QCOMPARE(xlUnet.crossAttentionDim, 64);
        QVERIFY(xlUnet.textTimeEmbedding);
        QCOMPARE(xlUnet.textEmbedDim(), 32);
        const VaeConfig xlVae = VaeConfig::fromJson(xl.vae / "config.json");
        QCOMPARE(xlVae.scalingFactor, 0.13025);
        QCOMPARE(xlVae.latentChannels, 4);
        QVERIFY(xlVae.useQuantConv && xlVae.usePostQuantConv);
        QCOMPARE(VaeConfig::fromJson(dir.file("b") / "sd15" / "vae" / "config.json").scalingFactor, 0.18215);
        const ModelSet sd15 = demoModelSet(dir.file("b"), ModelFamily::SD15);
        QCOMPARE(sd15.family, ModelFamily::SD15);
        QVERIFY(sd15.clipG.empty());
        QCOMPARE(sd15.vae, dir.file("b") / "sd15" / "vae");
        QCOMPARE(demoModelSet(dir.file("b"), ModelFamily::SD35Large).family, ModelFamily::SD35Medium);
        std::filesystem::remove(dir.file("a") / "sd15" / "unet" / "diffusion_pytorch_model.safetensors");
        QVERIFY(!isDemoModel(dir.file("a")));
        std::filesystem::remove(dir.file("b") / "sdxl" / "tokenizer_2" / "merges.txt");
        QVERIFY(!isDemoModel(dir.file("b")));
        QVERIFY(isDemoModel(dir.file("c")));
    }

    // SD presets run end to end through the session on the SD demo when no SD model is installed:
    // SiD SDXL (4 steps), SDXL's Euler discrete with CFG (2 steps), SiD SD 1.5 (1 step).
    void sdPresetsRunOnTheSdDemo() {
        swd::test::ScratchDir dir;
        std::filesystem::create_directories(dir.file("no-models"));
        SessionOptions options;
        options.modelFolders = {dir.file("no-models")};
        options.useHfCache = false;
        options.demoDir = dir.file("demo");
        options.demoWhenNoneInstalled = true;
        Session session(options);
        struct Case {
            Schedule schedule;
            ModelFamily family;
            int side;
        };
        for (const Case& c : {Case{shortened("sid-sdxl-4step", 32), ModelFamily::SDXL, 256},
                              Case{shortened("sdxl-full", 24, 2), ModelFamily::SDXL, 192},
                              Case{shortened("sid-sd15-1step", 24), ModelFamily::SD15, 192}}) {
            const ResolvedModels models = session.resolve(ModelSelection{}, c.schedule);
            QVERIFY(models.demo);
            QVERIFY(models.note.find("demo") != std::string::npos);
            QCOMPARE(models.set.family, c.family);
            GenerationRequest r = request(c.schedule, 9);
            r.label = c.schedule.id;
            RecordingObserver obs;
            const GenerationResult res = session.run(models.set, r, &obs, CancelToken{});
            const std::size_t steps = c.schedule.scales.size();
            QCOMPARE(res.images.size(), std::size_t(1));
            QCOMPARE(res.images[0].width, c.side);
            QCOMPARE(res.images[0].height, c.side);
            QVERIFY(allFinite(res.images[0]));
            QCOMPARE(res.steps.size(), steps);
            QCOMPARE(obs.steps.size(), steps);
            QCOMPARE(res.stepFlops.size(), steps);
            for (std::size_t i = 0; i < steps; ++i) {
                QCOMPARE(res.steps[i].timestep, double(c.schedule.timesteps[i]));
                QVERIFY(res.steps[i].modelMs > 0);
                QVERIFY(res.stepFlops[i] > 0);
            }
            // The cost model counts the loaded (tiny) UNet, so the calibration is of this model.
            QVERIFY(session.costInfo().shape.unet() != nullptr);
            QVERIFY(session.costInfo().calibrated);
            if (c.schedule.id != "sdxl-full") continue;
            QCOMPARE(res.stepFlops[0], 2.0 * unetFlops(session.costInfo().shape.unet()->config, 24));  // CFG
            RunOutput out;
            out.folder = dir.file("out");
            out.prefix = "sdxl";
            const auto written = writeResult(res, out);
            QCOMPARE(written.size(), std::size_t(1));
            const ImageMetadata meta = readImageMetadata(written[0].image);
            const ImageRecord rec = parseImageRecord(meta.request, "saved");
            QCOMPARE(rec.request.schedule.id, std::string("sdxl-full"));
            QCOMPARE(rec.request.schedule.sampler, SamplerKind::EulerDiscrete);
            QCOMPARE(rec.request.schedule.timesteps, c.schedule.timesteps);
            QVERIFY(meta.parameters.find("Schedule: " + c.schedule.name) != std::string::npos);
            QVERIFY(rec.provenance.modelName.find("Demo model") != std::string::npos);
        }
        // Asked for the demo by name, an SD preset gets the SD demo, an SD3 preset the SD3 one.
        ModelSelection demo;
        demo.kind = ModelSelection::Kind::Demo;
        QCOMPARE(session.resolve(demo, shortened("sid-sd15-1step", 8)).set.family, ModelFamily::SD15);
        QCOMPARE(session.resolve(demo, smallSwd()).set.family, ModelFamily::SD35Medium);
    }

    void swdRunOnTheDemoModel() {
        RecordingObserver obs;
        CancelToken cancel;
        GenerationRequest r = request(smallSwd(), 11);
        r.preview = PreviewMode::Projection;
        const GenerationResult res = engine().generate(r, &obs, cancel);
        QVERIFY(!res.cancelled);
        QCOMPARE(res.completedSteps, 3);
        QCOMPARE(res.images.size(), std::size_t(1));
        QCOMPARE(res.images[0].width, 128);
        QCOMPARE(res.steps.size(), std::size_t(3));
        QCOMPARE(obs.steps.size(), std::size_t(3));
        // Every step reports its scale, sigma, timestep and x0 at that scale, with a preview.
        for (int i = 0; i < 3; ++i) {
            const StepEvent& e = obs.steps[static_cast<std::size_t>(i)];
            QCOMPARE(e.scale, r.schedule.scales[static_cast<std::size_t>(i)]);
            QCOMPARE(e.sigma, r.schedule.sigmas[static_cast<std::size_t>(i)]);
            QVERIFY(std::abs(e.timestep - 1000.0 * e.sigma) < 1e-3);
            QCOMPARE(e.x0.size(-1), int64_t(e.scale));
            QCOMPARE(e.images.size(), std::size_t(1));
            QCOMPARE(e.images[0].width, e.scale);  // the projection preview is at latent resolution
            QVERIFY(e.ms > 0);
        }
        QCOMPARE(obs.steps.back().etaMs, 0.0);
        QVERIFY(obs.stages.front() == Stage::LoadingModels || obs.stages.front() == Stage::EncodingPrompt);
        QCOMPARE(obs.stages.back(), Stage::Done);
        QCOMPARE(res.seeds, (std::vector<std::uint64_t>{11}));
        QVERIFY(res.timings.totalMs >= res.timings.samplingMs);
        // The metadata restores the run.
        const ImageRecord rec = parseImageRecord(res.recordJson(0), "result");
        QCOMPARE(rec.request.seed, std::uint64_t(11));
        QCOMPARE(rec.request.schedule.scales, r.schedule.scales);
        QVERIFY(rec.provenance.adapterName.find("demo") != std::string::npos);
        QCOMPARE(rec.provenance.modelHash.size(), std::size_t(64));
        QVERIFY(res.parametersText(0).find("Seed: 11") != std::string::npos);
    }

    void sameSeedSameImageAndBatchSeeds() {
        CancelToken cancel;
        const GenerationResult a = engine().generate(request(smallSwd(), 5), nullptr, cancel);
        const GenerationResult b = engine().generate(request(smallSwd(), 5), nullptr, cancel);
        QVERIFY(sameImage(a.images[0], b.images[0]));
        const GenerationResult c = engine().generate(request(smallSwd(), 6), nullptr, cancel);
        QVERIFY(!sameImage(a.images[0], c.images[0]));
        // Image i of a batch is the image of seed + i made alone.
        GenerationRequest batch = request(smallSwd(), 5);
        batch.batchSize = 2;
        const GenerationResult ab = engine().generate(batch, nullptr, cancel);
        QCOMPARE(ab.seeds, (std::vector<std::uint64_t>{5, 6}));
        QCOMPARE(ab.images.size(), std::size_t(2));
        const RgbImage8 x = ab.images[1].toRgb8(), y = c.images[0].toRgb8();
        int worst = 0;
        for (std::size_t i = 0; i < x.data.size(); ++i)
            worst = std::max(worst, std::abs(int(x.data[i]) - int(y.data[i])));
        QVERIFY2(worst <= 1, qPrintable(QString::number(worst)));
        QCOMPARE(parseImageRecord(ab.recordJson(1), "b").request.seed, std::uint64_t(6));
    }

    void adapterSwitchesWithoutReload() {
        CancelToken cancel;
        GenerationRequest withAdapter = request(smallSwd(), 3);
        GenerationRequest base = withAdapter;
        base.useAdapter = false;
        const GenerationResult a1 = engine().generate(withAdapter, nullptr, cancel);
        const GenerationResult b = engine().generate(base, nullptr, cancel);
        const GenerationResult a2 = engine().generate(withAdapter, nullptr, cancel);
        QVERIFY(!sameImage(a1.images[0], b.images[0]));  // the adapter changes the result
        QVERIFY(sameImage(a1.images[0], a2.images[0]));  // and switching back restores it exactly
        QCOMPARE(a2.timings.loadMs, 0.0);                // nothing was reloaded
        QVERIFY(b.provenance.adapterName.empty());
    }

    // Weights held in memory (stores made from tensors, as the benchmarks' random weights) stand in for the
    // model set's files through the engine's one loading path: the same image as from the files, the
    // record says they have no file to hash, and a loaded component's store is handed over.
    void inMemoryWeightsRunLikeTheirFiles() {
        CancelToken cancel;
        const GenerationRequest r = request(smallSwd(), 21);
        const GenerationResult fromFiles = engine().generate(r, nullptr, cancel);
        const ModelSet set = engine().models();
        auto inMemory = [](const std::filesystem::path& path) {
            const TensorStore file = TensorStore::open(path);
            std::map<std::string, at::Tensor> tensors;
            for (const auto& name : file.names()) tensors[name] = file.get(name).clone();
            return TensorStore::fromTensors(std::move(tensors), "in memory");
        };
        InMemoryWeights weights;
        weights.stores["transformer"] = inMemory(set.transformer);
        weights.adapter = LoraAdapter::load(*set.adapter);
        // The files these stand in for are not there; the VAE still comes from its folder (the tiny
        // demo VAE needs its config.json), so one run mixes both.
        ModelSet bare = set;
        bare.transformer = m_demoDir.file("no-such-transformer");
        bare.adapter = m_demoDir.file("no-such-adapter");
        EngineOptions o = engine().options();
        o.weights = WeightSource(std::move(weights));
        QVERIFY(o.weights.inMemory("transformer"));
        Engine memoryEngine(bare, o);
        const GenerationResult fromMemory = memoryEngine.generate(r, nullptr, cancel);
        QVERIFY(sameImage(fromFiles.images[0], fromMemory.images[0]));
        QCOMPARE(fromMemory.provenance.modelHash, std::string("in-memory weights"));
        QCOMPARE(fromMemory.provenance.adapterHash, std::string("in-memory"));
        QVERIFY(!fromMemory.provenance.adapterName.empty());
        // The engine took the stores it loaded; the copy of the options here shares that state.
        QVERIFY(!o.weights.inMemory("transformer"));
    }

    void taesdPreviewsWhenItsWeightsAreGiven() {
        swd::test::ScratchDir dir;
        writeDemoModel(dir.file("demo"));
        // Random TAESD3 weights in a file, as the user points the settings at one.
        const TensorStore random =
            randomWeightStore(taesdParameterShapes(16), at::kFloat, 5, "random TAESD3", 0.02);
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto& name : random.names()) tensors.emplace_back(name, random.get(name));
        const auto taesdFile = dir.file("taesd3_decoder.safetensors");
        saveSafetensors(taesdFile, tensors);
        EngineOptions o;
        o.precision = Precision::FP32;
        o.textPrecision = Precision::FP32;
        o.taesdPath = taesdFile;
        Engine withTaesd(demoModelSet(dir.file("demo")), o);
        RecordingObserver obs;
        CancelToken cancel;
        GenerationRequest r = request(smallSwd(), 3);
        r.preview = PreviewMode::Taesd;
        withTaesd.generate(r, &obs, cancel);
        QCOMPARE(obs.steps.size(), std::size_t(3));
        // Each preview is the tiny decoder's image of that step's x0, at image resolution.
        const auto taesd = TaesdDecoder::load(TensorStore::open(taesdFile));
        for (const StepEvent& e : obs.steps) {
            QCOMPARE(e.images.size(), std::size_t(1));
            const RgbImage8& p = e.images[0];
            QCOMPARE(p.width, 8 * e.scale);
            const at::Tensor want =
                (taesd->decodeToImage(e.x0.narrow(0, 0, 1).to(at::kFloat))[0].permute({1, 2, 0}) * 255)
                    .round();
            const at::Tensor got =
                at::from_blob(const_cast<std::uint8_t*>(p.data.data()), {p.height, p.width, 3}, at::kByte)
                    .to(at::kFloat);
            QVERIFY2((got - want).abs().max().item<double>() <= 1.0, qPrintable(QString::number(e.index)));
        }
        // Without TAESD weights the engine shows the latent projection instead.
        obs.steps.clear();
        engine().generate(r, &obs, cancel);
        QCOMPARE(obs.steps.front().images.at(0).width, obs.steps.front().scale);
    }

    void fullResolutionWithCfg() {
        CancelToken cancel;
        RecordingObserver obs;
        GenerationRequest r = request(smallFull(), 9);
        r.preview = PreviewMode::FullVae;
        const GenerationResult batched = engine().generate(r, &obs, cancel);
        QCOMPARE(batched.completedSteps, 3);
        QCOMPARE(obs.steps[0].images[0].width, 128);  // full-VAE previews are at image resolution
        r.cfgBatched = false;
        const GenerationResult twoCalls = engine().generate(r, nullptr, cancel);
        float worst = 0;
        for (std::size_t i = 0; i < batched.images[0].data.size(); ++i)
            worst = std::max(worst, std::abs(batched.images[0].data[i] - twoCalls.images[0].data[i]));
        QVERIFY2(worst < 1e-4f, qPrintable(QString::number(worst)));
        QVERIFY(a1111Parameters(r, batched.provenance).find("Negative prompt: blurry") != std::string::npos);
    }

    void cancelReturnsFinishedSteps() {
        CancelToken cancel;
        RecordingObserver obs;
        obs.onEach = [&](const StepEvent& e) {
            if (e.index == 1) cancel.request();
        };
        const GenerationResult r = engine().generate(request(smallSwd(), 1), &obs, cancel);
        QVERIFY(r.cancelled);
        QCOMPARE(r.completedSteps, 2);
        QCOMPARE(r.steps.size(), std::size_t(2));
        QVERIFY(r.images.empty());                      // cancelled before decoding
        QCOMPARE(r.finalLatent.size(-1), int64_t(12));  // the last finished x0
        // Cancelled before it starts: nothing runs.
        CancelToken early;
        early.request();
        QVERIFY(engine().generate(request(smallSwd(), 1), nullptr, early).cancelled);
    }

    void badRequestsAreRejectedBeforeWork() {
        CancelToken cancel;
        GenerationRequest tooBig = request(smallSwd(), 1);
        tooBig.schedule.scales = {64, 200, 256};
        SWD_EXPECT_ERROR(engine().generate(tooBig, nullptr, cancel), "exceeds 128 latent pixels");
        GenerationRequest bad = request(smallSwd(), 1);
        bad.schedule.sigmas = {1.0, 0.5, 0.7, 0.0};
        SWD_EXPECT_ERROR(engine().generate(bad, nullptr, cancel), "sigmas[2]", "strictly decrease");
        GenerationRequest cuda = request(smallSwd(), 1);
        cuda.device = "cuda";
        if (!cudaAvailable()) SWD_EXPECT_ERROR(engine().generate(cuda, nullptr, cancel), "cuda");
    }

    void writesImagesThatRestoreTheRun() {
        CancelToken cancel;
        const GenerationResult r = engine().generate(request(smallSwd(), 21), nullptr, cancel);
        swd::test::ScratchDir dir;
        ImageMetadata meta{r.parametersText(0), r.recordJson(0), r.provenance.version};
        const auto path = writeImage(dir.file("x.png"), r.images[0], meta);
        const ImageRecord back = parseImageRecord(readImageMetadata(path).request, path.string());
        QCOMPARE(back.request.prompt, std::string("a lighthouse at dusk"));
        const GenerationResult again = engine().generate(back.request, nullptr, cancel);
        QVERIFY(sameImage(again.images[0], r.images[0]));  // the stored run re-makes the same image
    }

    void requestJsonRoundTrip() {
        GenerationRequest r;
        r.prompt = "a cat, \"quoted\", café";
        r.negativePrompt = "blurry";
        r.seed = 18446744073709551615ull;  // the whole uint64 range survives JSON
        r.schedule = PresetLibrary::builtin().get("swd-2b-6step");
        r.batchSize = 2;
        r.precision = Precision::FP32;
        r.preview = PreviewMode::FullVae;
        r.useAdapter = false;
        r.label = "SwD";
        const GenerationRequest back = requestFromJson(requestToJson(r), "test");
        QCOMPARE(back.prompt, r.prompt);
        QCOMPARE(back.seed, r.seed);
        QCOMPARE(back.schedule.scales, r.schedule.scales);
        QCOMPARE(back.schedule.sigmas, r.schedule.sigmas);
        QCOMPARE(back.schedule.adapter, r.schedule.adapter);
        QCOMPARE(back.batchSize, 2);
        QCOMPARE(back.precision, Precision::FP32);
        QCOMPARE(back.preview, PreviewMode::FullVae);
        QCOMPARE(back.useAdapter, false);

        RunProvenance p;
        p.modelName = "SD3.5 Medium";
        p.modelHash = std::string(64, 'a');
        p.imageSeed = 7;
        const ImageRecord rec = parseImageRecord(imageRecordJson(r, p), "image.png");
        QCOMPARE(rec.request.prompt, r.prompt);
        QCOMPARE(rec.provenance.modelHash, p.modelHash);
        QCOMPARE(rec.provenance.imageSeed, std::uint64_t(7));
        SWD_EXPECT_ERROR(parseImageRecord("{\"format\":\"other\"}", "x.png"), "x.png",
                         "not a SwD Studio run");
        SWD_EXPECT_ERROR(
            requestFromJson(nlohmann::json::parse(R"({"batch_size": 0, "schedule": {}})"), "r.json"),
            "r.json", "batch_size 0");
    }

    void a1111ParametersText() {
        GenerationRequest r;
        r.prompt = "a fox, in the snow";
        r.negativePrompt = "blurry";
        r.seed = 42;
        r.schedule = PresetLibrary::builtin().get("swd-2b-6step");
        RunProvenance p;
        p.modelName = "SD3.5 Medium";
        p.adapterName = "yresearch/swd-medium-6-steps";
        p.modelHash = "0123456789abcdef";
        p.adapterHash = std::string(64, 'a');
        const std::string text = a1111Parameters(r, p);
        // The negative prompt is written whenever there is one, as A1111 does (unused at CFG 1).
        QVERIFY2(text.rfind(
                     "a fox, in the snow\nNegative prompt: blurry\nSteps: 6, Sampler: SwD scale-wise, "
                     "CFG scale: 1, Seed: 42, Size: 1024x1024, Model hash: 0123456789, Model: SD3.5 Medium, "
                     "Lora hashes: \"yresearch/swd-medium-6-steps: aaaaaaaaaa\", "
                     "Adapter: yresearch/swd-medium-6-steps, ",
                     0) == 0,
                 text.c_str());
        QVERIFY(text.find("Scales: \"[32, 48, 64, 80, 96, 128]\"") != std::string::npos);
        QVERIFY(text.find("Sigmas: \"[1, 0.9454, 0.8959, 0.7904, 0.7371, 0.6022, 0]\"") != std::string::npos);
        r.negativePrompt.clear();
        QVERIFY(a1111Parameters(r, p).find("Negative prompt") == std::string::npos);
        // An alias may not hold the ", " and ": " that separate A1111's Lora hashes entries.
        RunProvenance odd = p;
        odd.adapterName = "my:lora, v2";
        QVERIFY(a1111Parameters(r, odd).find("Lora hashes: \"my_lora_ v2: aaaaaaaaaa\"") !=
                std::string::npos);
        // No SHA-256 of the adapter (an in-memory one): no Lora hashes, the name still recorded.
        p.adapterHash = "in-memory";
        QVERIFY(a1111Parameters(r, p).find("Lora hashes") == std::string::npos);
        QVERIFY(a1111Parameters(r, p).find("Adapter: yresearch/swd-medium-6-steps") != std::string::npos);

        r.negativePrompt = "blurry";
        r.schedule = PresetLibrary::builtin().get("sd35-medium-full");
        const std::string full = a1111Parameters(r, p);
        QVERIFY2(full.find("\nNegative prompt: blurry\nSteps: 40, Sampler: Euler, CFG scale: 4.5") !=
                     std::string::npos,
                 full.c_str());

        const A1111Parameters back = parseA1111Parameters(full);
        QCOMPARE(back.prompt, std::string("a fox, in the snow"));
        QCOMPARE(back.negativePrompt, std::string("blurry"));
        QVERIFY(back.find("Seed") && *back.find("Seed") == "42");
        QVERIFY(back.find("Scales") && back.find("Scales")->rfind("[128, 128", 0) == 0);
        QVERIFY(back.find("Adapter") && *back.find("Adapter") == "yresearch/swd-medium-6-steps");
    }

    void costModelMatchesPublishedFlops() {
        // ../shared/spec/cpu-performance.md: SD3.5-M forward, 333 text tokens: 911 GFLOP at 256 image
        // tokens, 2,443 GFLOP at 1,024.
        const auto m = TransformerShape::sd35Medium();
        QVERIFY(std::abs(transformerFlops(m, 32, 333) / 1e9 - 911) < 5);
        QVERIFY(std::abs(transformerFlops(m, 64, 333) / 1e9 - 2443) < 5);
        // SwD's 6 steps cost a fraction of 40 full-resolution CFG steps.
        const auto lib = PresetLibrary::builtin();
        double swd = 0, full = 0;
        for (double f : scheduleStepFlops(m, lib.get("swd-2b-6step"))) swd += f;
        for (double f : scheduleStepFlops(m, lib.get("sd35-medium-full"))) full += f;
        QVERIFY(full / swd > 20);
        // The estimator learns a throughput and predicts in proportion.
        StepTimeEstimator est;
        QVERIFY(!est.calibrated());
        est.observe(2e12, 1000.0);
        QVERIFY(est.calibrated());
        QCOMPARE(est.predictMs(1e12), 500.0);
        QCOMPARE(estimateRemainingMs({1e12, 2e12, 4e12}, 1, est), 3000.0);
    }

    // One SD 1.5 UNet forward at 64x64 latents (512 px), 77 tokens, 2 FLOPs per multiply-add, summed by
    // hand layer by layer (widths 320/640/1280/1280 at 64²/32²/16²/8² pixels, temb 1280, D = 768):
    //   conv_in + conv_out                       0.189 GFLOP
    //   time MLP                                 0.004
    //   down blocks (8 resnets, 6 transformers, 3 downsamplers)   249.242
    //   mid block (2 resnets, 1 transformer)     12.100
    //   up blocks (12 resnets, 9 transformers, 3 upsampler convs) 541.739
    //   total                                    803.273 GFLOP (= 401.6 G multiply-adds)
    // A transformer of width c over N pixels: 4Nc² (proj in/out) + 8Nc² + 4N²c (self-attention)
    // + 4Nc² + 4·77·768·c + 4·N·77·c (cross-attention) + 24Nc² (GEGLU). A resnet: 18N·cin·cout + 18N·cout²
    // (+ 2N·cin·cout shortcut) + 2·1280·cout.
    void unetCostModel() {
        const double sd15 = unetFlops(UnetConfig::sd15(), 64, 77);
        QVERIFY2(std::abs(sd15 / 1e9 - 803.273) < 0.01, qPrintable(QString::number(sd15 / 1e9, 'f', 3)));
        // Monotonic in the latent size, for both real UNets; SDXL at its 1024 px costs several times SD 1.5
        // at its 512 px.
        for (const UnetConfig& c : {UnetConfig::sd15(), UnetConfig::sdxl()}) {
            double last = 0;
            for (int side : {8, 15, 16, 32, 33, 64, 96, 128}) {
                const double f = unetFlops(c, side);
                QVERIFY2(f > last, qPrintable(QString::number(side)));
                last = f;
            }
        }
        QVERIFY(unetFlops(UnetConfig::sdxl(), 128) > 4.0 * sd15);
        // Through the one step-cost path: SiD (no CFG) one forward per step, Euler discrete with CFG two.
        const auto lib = PresetLibrary::builtin();
        const DenoiserShape xl = UnetShape::sdxl();
        const double forward = unetFlops(UnetConfig::sdxl(), 128);
        const auto sid = scheduleStepFlops(xl, lib.get("sid-sdxl-4step"));
        QCOMPARE(sid.size(), std::size_t(4));
        for (double f : sid) QCOMPARE(f, forward);
        const auto full = scheduleStepFlops(xl, lib.get("sdxl-full"));
        QCOMPARE(full.size(), std::size_t(40));
        for (double f : full) QCOMPARE(f, 2.0 * forward);
        QCOMPARE(scheduleStepFlops(xl, lib.get("sid-sdxl-4step"), 3)[0], 3.0 * forward);  // batch
        // T5's length does not change a UNet's cost; it does an MMDiT's, whose numbers stay as before.
        Schedule longer = lib.get("sdxl-full");
        longer.t5Length = 77;
        QCOMPARE(scheduleStepFlops(xl, longer)[0], full[0]);
        const DenoiserShape mmdit = TransformerShape::sd35Medium();
        QCOMPARE(mmdit.forwardFlops(64, 333), transformerFlops(TransformerShape::sd35Medium(), 64, 333));
        QCOMPARE(mmdit.patch(), 2);
        QCOMPARE(xl.patch(), 1);
    }

    void devices() {
        QCOMPARE(parseDevice("cpu").type(), at::kCPU);
        SWD_EXPECT_ERROR(parseDevice("tpu"), "'tpu' is not a device");
        if (!cudaAvailable()) {
            SWD_EXPECT_ERROR(parseDevice("cuda"), "device 'cuda' was requested");
            bool threw = false;
            try {
                parseDevice("cuda:0");
            } catch (const Error& e) {
                threw = true;
                QCOMPARE(e.kind(), ErrorKind::Unsupported);
            }
            QVERIFY(threw);
        }
        QCOMPARE(componentDtype(Precision::Auto, at::Device(at::kCPU), Component::Transformer),
                 at::kBFloat16);
        QCOMPARE(componentDtype(Precision::FP32, at::Device(at::kCPU), Component::TextEncoderT5), at::kFloat);
        SWD_EXPECT_ERROR(componentDtype(Precision::FP16, at::Device(at::kCPU), Component::Vae),
                         "fp16 cannot run on the CPU");
        QCOMPARE(componentDtype(Precision::FP16, at::Device(at::kCUDA, 0), Component::TextEncoderT5),
                 at::kBFloat16);
        QCOMPARE(componentDtype(Precision::FP16, at::Device(at::kCUDA, 0), Component::Transformer),
                 at::kHalf);
    }

    void fileHashes() {
        swd::test::ScratchDir dir;
        swd::test::writeBytes(dir.file("abc.bin"), "abc");
        const std::string expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        const auto cache = dir.file("cache/hashes.json");
        QCOMPARE(fileSha256(dir.file("abc.bin"), cache), expected);
        QVERIFY(std::filesystem::exists(cache));
        QCOMPARE(fileSha256(dir.file("abc.bin"), cache), expected);  // from the cache
        QCOMPARE(shortHash(expected), std::string("ba7816bf8f"));
        // A Hugging Face blob is named by its hash: no need to read it.
        std::filesystem::create_directories(dir.file("blobs"));
        const std::string blobName(64, 'c');
        swd::test::writeBytes(dir.file("blobs") / blobName, "not really");
        std::filesystem::create_symlink(dir.file("blobs") / blobName, dir.file("model.safetensors"));
        QCOMPARE(fileSha256(dir.file("model.safetensors")), blobName);
        SWD_EXPECT_ERROR(fileSha256(dir.file("missing.bin")), "missing.bin");
    }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "tst_pipeline.moc"
