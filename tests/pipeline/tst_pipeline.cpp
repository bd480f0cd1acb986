// core/pipeline: requests and their records, A1111 parameters, the cost model, devices, file hashes,
// and the engine end to end on the built-in demo model.
#include "core/test_util.h"
#include "io/file_hash.h"
#include "pipeline/cost_model.h"
#include "pipeline/generation_request.h"
#include "sampling/preset_library.h"
#include "util/device.h"
#include "util/error.h"

#include <QtTest>

using namespace swd;

class TestPipeline : public QObject {
    Q_OBJECT

private Q_SLOTS:
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
        SWD_EXPECT_ERROR(parseImageRecord("{\"format\":\"other\"}", "x.png"), "x.png", "not a SwD Studio run");
        SWD_EXPECT_ERROR(requestFromJson(nlohmann::json::parse(R"({"batch_size": 0, "schedule": {}})"), "r.json"),
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
        const std::string text = a1111Parameters(r, p);
        // No CFG: the negative prompt is not used, so it is not written.
        QVERIFY2(text.rfind("a fox, in the snow\nSteps: 6, Sampler: SwD scale-wise, CFG scale: 1, Seed: 42, "
                            "Size: 1024x1024, Model hash: 0123456789, Model: SD3.5 Medium, Lora: ",
                            0) == 0,
                 text.c_str());
        QVERIFY(text.find("Scales: \"[32, 48, 64, 80, 96, 128]\"") != std::string::npos);
        QVERIFY(text.find("Sigmas: \"[1, 0.9454, 0.8959, 0.7904, 0.7371, 0.6022, 0]\"") != std::string::npos);

        r.schedule = PresetLibrary::builtin().get("sd35-medium-full");
        const std::string full = a1111Parameters(r, p);
        QVERIFY(full.find("\nNegative prompt: blurry\nSteps: 40, Sampler: Euler (flow matching), CFG scale: 4.5") !=
                std::string::npos);

        const A1111Parameters back = parseA1111Parameters(full);
        QCOMPARE(back.prompt, std::string("a fox, in the snow"));
        QCOMPARE(back.negativePrompt, std::string("blurry"));
        QVERIFY(back.find("Seed") && *back.find("Seed") == "42");
        QVERIFY(back.find("Scales") && back.find("Scales")->rfind("[128, 128", 0) == 0);
        QVERIFY(back.find("Lora") && *back.find("Lora") == "yresearch/swd-medium-6-steps");
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

    void devices() {
        QCOMPARE(parseDevice("cpu").type(), at::kCPU);
        SWD_EXPECT_ERROR(parseDevice("tpu"), "'tpu' is not a device");
        if (!cudaAvailable()) {
            SWD_EXPECT_ERROR(parseDevice("cuda"), "device 'cuda' was requested");
            try {
                parseDevice("cuda:0");
            } catch (const Error& e) {
                QCOMPARE(e.kind(), ErrorKind::Unsupported);
            }
        }
        QCOMPARE(componentDtype(Precision::Auto, at::Device(at::kCPU), Component::Transformer), at::kBFloat16);
        QCOMPARE(componentDtype(Precision::FP32, at::Device(at::kCPU), Component::TextEncoderT5), at::kFloat);
        SWD_EXPECT_ERROR(componentDtype(Precision::FP16, at::Device(at::kCPU), Component::Vae), "fp16 cannot run on the CPU");
        QCOMPARE(componentDtype(Precision::FP16, at::Device(at::kCUDA, 0), Component::TextEncoderT5), at::kBFloat16);
        QCOMPARE(componentDtype(Precision::FP16, at::Device(at::kCUDA, 0), Component::Transformer), at::kHalf);
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
