// core/models VAE: golden decode/encode, the SD3 pipeline conventions, the single-file (LDM) layout, load
// errors, tiled decoding, and the preview paths (projection, TAESD, full VAE).
#include "core/test_util.h"
#include "golden/golden_case.h"
#include "io/safetensors.h"
#include "io/tensor_store.h"
#include "kernels/winograd_conv.h"
#include "models/latent_preview.h"
#include "models/vae.h"
#include "models/vae_keys.h"
#include "models/vae_ops.h"
#include "models/vae_tiny.h"
#include "pipeline/generation_request.h"
#include "util/error.h"

#include <QtTest>

#include <ATen/Parallel.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

using namespace swd;
using swd::test::ScratchDir;

namespace {

// The VAE folder of a golden case, or of an SD component ("vae_sd15", "vae_sdxl" in components_sd).
std::filesystem::path vaeFolder(const std::string& caseName) {
    if (caseName == "vae_sd15" || caseName == "vae_sdxl")
        return swd::test::goldenDir("components_sd") / caseName;
    return caseName == "vae_2level" ? swd::test::goldenDir("vae_2level") / "vae"
                                    : swd::test::goldenDir("components") / "vae";
}

std::unique_ptr<AutoencoderKl> loadGolden(const std::string& caseName, at::ScalarType dtype = at::kFloat,
                                          const VaeLoadOptions& options = {}) {
    return AutoencoderKl::load(TensorStore::open(vaeFolder(caseName)), dtype, at::kCPU, options);
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// The LDM (single-file) name of a diffusers VAE name, written here from the rules of
// spec/sd35-architecture.md §4.6 independently of the library's mapping.
std::string ldmName(const std::string& d, int levels) {
    std::smatch m;
    auto resnet = [](std::string rest) {
        return std::regex_replace(rest, std::regex("^conv_shortcut"), "nin_shortcut");
    };
    if (std::regex_match(d, m, std::regex(R"(^(encoder|decoder)\.conv_norm_out\.(.*)$)")))
        return m[1].str() + ".norm_out." + m[2].str();
    if (std::regex_match(d, m, std::regex(R"(^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)$)")))
        return m[1].str() + ".mid.block_" + std::to_string(std::stoi(m[2].str()) + 1) + "." +
               resnet(m[3].str());
    if (std::regex_match(
            d, m,
            std::regex(R"(^(encoder|decoder)\.mid_block\.attentions\.0\.(\w+)(\.0)?\.(weight|bias)$)"))) {
        const std::map<std::string, std::string> names = {
            {"group_norm", "norm"}, {"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out", "proj_out"}};
        return m[1].str() + ".mid.attn_1." + names.at(m[2].str()) + "." + m[4].str();
    }
    if (std::regex_match(d, m, std::regex(R"(^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$)")))
        return "encoder.down." + m[1].str() + ".block." + m[2].str() + "." + resnet(m[3].str());
    if (std::regex_match(d, m, std::regex(R"(^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.*)$)")))
        return "encoder.down." + m[1].str() + ".downsample." + m[2].str();
    if (std::regex_match(d, m, std::regex(R"(^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$)")))
        return "decoder.up." + std::to_string(levels - 1 - std::stoi(m[1].str())) + ".block." + m[2].str() +
               "." + resnet(m[3].str());
    if (std::regex_match(d, m, std::regex(R"(^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.*)$)")))
        return "decoder.up." + std::to_string(levels - 1 - std::stoi(m[1].str())) + ".upsample." + m[2].str();
    return d;  // conv_in, conv_out
}

// Writes a golden VAE as a single-file checkpoint: LDM names under first_stage_model., attention
// projections as [C, C, 1, 1] convs, plus a transformer tensor that must be ignored.
std::filesystem::path writeSingleFile(const ScratchDir& dir, const std::string& caseName, int levels) {
    const TensorStore src = TensorStore::open(vaeFolder(caseName));
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : src.names()) {
        at::Tensor t = src.get(name).clone();
        if (std::regex_search(name, std::regex(R"(attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$)")))
            t = t.reshape({t.size(0), t.size(1), 1, 1});
        tensors.push_back({"first_stage_model." + ldmName(name, levels), t});
    }
    tensors.push_back({"model.diffusion_model.x_embedder.proj.weight", at::zeros({4, 16, 2, 2})});
    const auto path = dir.file(caseName + "_single.safetensors");
    saveSafetensors(path, tensors);
    return path;
}

VaeConfig goldenConfig(const std::string& caseName) {
    return VaeConfig::fromJson(vaeFolder(caseName) / "config.json");
}

// Random TAESD decoder weights in the taesd file names.
std::map<std::string, at::Tensor> randomTaesd(int latentChannels, uint64_t seed) {
    auto gen = at::detail::createCPUGenerator(seed);
    std::map<std::string, at::Tensor> out;
    for (const auto& [name, shape] : taesdParameterShapes(latentChannels)) {
        int64_t fanIn = 1;
        for (std::size_t i = 1; i < shape.size(); ++i) fanIn *= shape[i];
        out[name] = shape.size() == 1 ? at::randn(shape, gen) * 0.1
                                      : at::randn(shape, gen) / std::sqrt(double(fanIn));
    }
    return out;
}

at::Tensor smoothLatent(int64_t h, int64_t w, uint64_t seed, int64_t channels = 16) {
    auto gen = at::detail::createCPUGenerator(seed);
    return at::upsample_bilinear2d(at::randn({1, channels, 3, 3}, gen), {h, w}, true);
}

// A golden VAE with N(0, 2²) conv biases, so that its GroupNorm groups are well conditioned like a trained
// decoder's (see tiledDecodeHasNoVisibleSeam).
std::unique_ptr<AutoencoderKl> conditionedVae(const std::string& caseName, uint64_t seed) {
    const TensorStore src = TensorStore::open(vaeFolder(caseName));
    std::map<std::string, at::Tensor> t;
    auto gen = at::detail::createCPUGenerator(seed);
    for (const auto& n : src.names()) {
        const bool convBias = src.info(n).shape.size() == 1 && n.find("norm") == std::string::npos &&
                              n.find("conv_out") == std::string::npos &&
                              n.find("quant_conv") == std::string::npos;
        t[n] = convBias ? at::randn(src.info(n).shape, gen) * 2.0 : src.get(n);
    }
    VaeLoadOptions options;
    options.config = VaeConfig::fromJson(vaeFolder(caseName) / "config.json");
    return AutoencoderKl::load(TensorStore::fromTensors(t, "conditioned"), at::kFloat, at::kCPU, options);
}

}  // namespace

class TestVae : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { at::set_num_threads(2); }

    // ---- parity ------------------------------------------------------------------------------------

    void goldenDecodeAndEncode_data() {
        QTest::addColumn<QString>("caseName");
        QTest::newRow("vae_2level") << "vae_2level";
        QTest::newRow("vae_4level") << "vae_4level";
    }
    void goldenDecodeAndEncode() {
        QFETCH(QString, caseName);
        const GoldenReport report = runGoldenCase(swd::test::goldenDir(caseName.toStdString()));
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        // decode runs and encode runs (mean, logvar, std) were all compared
        QCOMPARE(report.runs.size(), std::size_t(2 + 2 * 3));
    }

    // The pipeline's decode: vae.decode(z / 1.5305 + 0.0609), clamp(x/2 + 0.5), uint8 = round(255 x).
    void sd3ConventionsMatchPipelineImages_data() {
        QTest::addColumn<QString>("caseName");
        QTest::addColumn<QString>("latentName");
        QTest::newRow("pipeline_cfg1") << "pipeline_cfg1"
                                       << "final_latents";
        QTest::newRow("pipeline_cfg4.5") << "pipeline_cfg4.5"
                                         << "final_latents";
        QTest::newRow("swd_3scale") << "swd_3scale"
                                    << "final_latent";
        QTest::newRow("swd_6scale") << "swd_6scale"
                                    << "final_latent";
        QTest::newRow("swd_4scale_repeat_cfg4.5") << "swd_4scale_repeat_cfg4.5"
                                                  << "final_latent";
    }
    void sd3ConventionsMatchPipelineImages() {
        QFETCH(QString, caseName);
        QFETCH(QString, latentName);
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir(caseName.toStdString()));
        const Tolerance tol = c.tolerance();
        const TensorStore out = c.file("outputs.safetensors");
        const auto vae = AutoencoderKl::load(TensorStore::open(swd::test::goldenDir("components") / "vae"));
        QCOMPARE(vae->config().scalingFactor, 1.5305);
        QCOMPARE(vae->config().shiftFactor, 0.0609);
        const at::Tensor z = out.get(latentName.toStdString());
        if (out.has("vae_input_latents")) {
            const auto cmp = compareTensors(vae->toVaeLatent(z), out.get("vae_input_latents"), tol);
            QVERIFY2(cmp.pass, qPrintable(QString("vae_input_latents max err %1").arg(cmp.maxAbsError)));
        }
        const auto decoded = compareTensors(vae->decode(vae->toVaeLatent(z)), out.get("vae_decoded"), tol);
        QVERIFY2(decoded.pass, qPrintable(QString("vae_decoded max err %1").arg(decoded.maxAbsError)));
        const at::Tensor image = vae->decodeToImage(z);
        const auto img = compareTensors(image, out.get("image"), tol);
        QVERIFY2(img.pass, qPrintable(QString("image max err %1").arg(img.maxAbsError)));
        QVERIFY(image.min().item<float>() >= 0.0f && image.max().item<float>() <= 1.0f);
        if (out.has("image_uint8_hwc")) {
            const at::Tensor u8 = imageToUint8Hwc(image);
            QCOMPARE(u8.scalar_type(), at::kByte);
            const at::Tensor expected = out.get("image_uint8_hwc");
            QCOMPARE(u8.sizes().vec(), expected.sizes().vec());
            const int64_t worst = (u8.to(at::kLong) - expected).abs().max().item<int64_t>();
            QVERIFY2(worst <= 1, qPrintable(QString("uint8 differs by %1").arg(worst)));
        }
    }

    void imageToUint8RoundsHalfToEven() {
        // round(255 x) as numpy: 0.5/255 -> 0 (half to even), 1.5/255 -> 2, clamped ends.
        const at::Tensor img =
            at::tensor({0.0f, 0.5f / 255.0f, 1.5f / 255.0f, 1.0f, 0.2f, 0.6f}).view({1, 3, 1, 2});
        const at::Tensor u8 = imageToUint8Hwc(img);
        QCOMPARE(u8.sizes().vec(), (std::vector<int64_t>{1, 1, 2, 3}));
        // HWC: pixel 0 = (c0[0], c1[0], c2[0]) = (0, 1.5/255, 0.2); pixel 1 = (0.5/255, 1, 0.6)
        QCOMPARE(u8[0][0][0][0].item<int>(), 0);
        QCOMPARE(u8[0][0][0][1].item<int>(), 2);
        QCOMPARE(u8[0][0][0][2].item<int>(), 51);
        QCOMPARE(u8[0][0][1][0].item<int>(), 0);
        QCOMPARE(u8[0][0][1][1].item<int>(), 255);
        QCOMPARE(u8[0][0][1][2].item<int>(), 153);
        SWD_EXPECT_ERROR(imageToUint8Hwc(at::zeros({1, 4, 2, 2})), "[batch, 3, height, width]",
                         "[1, 4, 2, 2]");
    }

    // ---- layouts and configs -----------------------------------------------------------------------

    // The library's parameter list and LDM names for the real SD3 config equal the manifest of the
    // released VAE (names, shapes, and the single-file names diffusers' converter maps).
    void realSd3NamesMatchManifest() {
        std::ifstream in(swd::test::goldenDir("manifests") / "vae_sd3.json");
        const auto manifest = nlohmann::json::parse(in);
        std::map<std::string, std::vector<int64_t>> expected;
        int64_t total = 0;
        for (const auto& p : manifest.at("diffusers")) {
            expected[p.at("name").get<std::string>()] = p.at("shape").get<std::vector<int64_t>>();
            total += p.at("numel").get<int64_t>();
        }
        std::map<std::string, std::vector<int64_t>> got;
        int64_t count = 0;
        for (const auto& [name, shape] : vaeParameterShapes(VaeConfig::sd3())) {
            got[name] = shape;
            int64_t n = 1;
            for (auto s : shape) n *= s;
            count += n;
        }
        QCOMPARE(got.size(), expected.size());
        QVERIFY(got == expected);
        QCOMPARE(count, manifest.at("total_params").get<int64_t>());
        QCOMPARE(count, total);
        for (const auto& e : manifest.at("single_file").at("entries")) {
            const std::string original = e.at("original").get<std::string>();
            const std::string diffusersName = e.at("diffusers").at(0).get<std::string>();
            QCOMPARE(std::string("first_stage_model.") + vaeLdmName(diffusersName, 4), original);
            QCOMPARE(isVaeAttentionMatrix(diffusersName),
                     e.at("op").get<std::string>() == "linear_to_conv1x1");
        }
        // the config.json of the manifest is what VaeConfig::sd3() describes
        const auto& cfg = manifest.at("config");
        QCOMPARE(cfg.at("block_out_channels").get<std::vector<int>>(), VaeConfig::sd3().blockOutChannels);
        QCOMPARE(cfg.at("scaling_factor").get<double>(), VaeConfig::sd3().scalingFactor);
        QCOMPARE(cfg.at("shift_factor").get<double>(), VaeConfig::sd3().shiftFactor);
    }

    void singleFileLayoutGivesIdenticalOutput_data() {
        QTest::addColumn<QString>("caseName");
        QTest::addColumn<int>("levels");
        QTest::newRow("vae_2level") << "vae_2level" << 2;
        QTest::newRow("vae_4level") << "vae_4level" << 4;
    }
    void singleFileLayoutGivesIdenticalOutput() {
        QFETCH(QString, caseName);
        QFETCH(int, levels);
        const std::string name = caseName.toStdString();
        ScratchDir dir;
        const auto file = writeSingleFile(dir, name, levels);
        VaeLoadOptions options;
        options.config = goldenConfig(name);
        const auto reference = loadGolden(name);
        // the sub-view, and the whole checkpoint (the prefix is found)
        const TensorStore checkpoint = TensorStore::open(file);
        QCOMPARE(detectVaeLayout(checkpoint.withPrefix("first_stage_model.")), VaeLayout::Ldm);
        for (const TensorStore& store : {checkpoint.withPrefix("first_stage_model."), checkpoint}) {
            const auto vae = AutoencoderKl::load(store, at::kFloat, at::kCPU, options);
            const int f = vae->config().downsampleFactor();
            auto gen = at::detail::createCPUGenerator(3);
            const at::Tensor z = at::randn({2, 16, 3, 5}, gen);
            QVERIFY(at::equal(vae->decode(z), reference->decode(z)));
            const at::Tensor img = at::rand({1, 3, 2 * f, 3 * f}, gen) * 2 - 1;
            const auto [m1, l1] = vae->encode(img);
            const auto [m2, l2] = reference->encode(img);
            QVERIFY(at::equal(m1, m2));
            QVERIFY(at::equal(l1, l2));
        }
    }

    void configFromJsonAndFromWeightsAgree() {
        for (const char* name : {"vae_2level", "vae_4level"}) {
            const VaeConfig json = goldenConfig(name);
            QCOMPARE(json.normNumGroups, 4);
            QCOMPARE(json.latentChannels, 16);
            // A loaded folder uses its config.json.
            QVERIFY(loadGolden(name)->config() == json);
            // The weights know channels, levels and layers, not the GroupNorm groups (SD3's 32 is assumed),
            // so the tiny models without a config must fail with a message that says what to do.
            const TensorStore store = TensorStore::open(vaeFolder(name));
            SWD_EXPECT_ERROR(VaeConfig::fromWeights(store), "norm_num_groups 32", "config.json");
        }
        // From the real architecture's names (random weights): everything but the groups is read back.
        std::map<std::string, at::Tensor> tensors;
        VaeConfig small = VaeConfig::sd3();
        small.blockOutChannels = {32, 64, 96};
        small.layersPerBlock = 1;
        for (const auto& [n, shape] : vaeParameterShapes(small)) tensors[n] = at::zeros(shape);
        QVERIFY(VaeConfig::fromWeights(TensorStore::fromTensors(tensors, "mem")) == small);
        std::map<std::string, at::Tensor> ldm;
        for (const auto& [n, t] : tensors) ldm["first_stage_model." + vaeLdmName(n, 3)] = t;
        QVERIFY(VaeConfig::fromWeights(TensorStore::fromTensors(ldm, "mem")) == small);
    }

    void configJsonErrors() {
        ScratchDir dir;
        auto write = [&](const std::string& text) {
            swd::test::writeBytes(dir.file("config.json"), text);
            return dir.file("config.json");
        };
        SWD_EXPECT_ERROR(VaeConfig::fromJson(write("{")), "config.json", "not valid JSON");
        SWD_EXPECT_ERROR(VaeConfig::fromJson(write(R"({"_class_name": "AutoencoderTiny"})")),
                         "AutoencoderTiny", "TAESD");
        SWD_EXPECT_ERROR(VaeConfig::fromJson(write(R"({"latent_channels": 16, "layers_per_block": 2})")),
                         "block_out_channels");
        // Absent quant-conv keys mean quant convs (diffusers' defaults, as in the real SD1.5 config).
        const VaeConfig sd1 =
            VaeConfig::fromJson(write(R"({"block_out_channels": [128, 256], "latent_channels": 4,
                "layers_per_block": 2})"));
        QVERIFY(sd1.useQuantConv && sd1.usePostQuantConv && sd1.forceUpcast);
        QCOMPARE(sd1.scalingFactor, 0.18215);
        QCOMPARE(sd1.shiftFactor, 0.0);
        SWD_EXPECT_ERROR(VaeConfig::fromJson(write(R"({"block_out_channels": [128, 256], "latent_channels": 4,
                "layers_per_block": 2, "latents_mean": [0, 0, 0, 0]})")),
                         "latents_mean", "not supported");
        SWD_EXPECT_ERROR(
            VaeConfig::fromJson(write(R"({"block_out_channels": [128, 256], "latent_channels": 16,
                "layers_per_block": 2, "use_quant_conv": false, "use_post_quant_conv": false,
                "norm_num_groups": 48})")),
            "norm_num_groups 48");
        SWD_EXPECT_ERROR(
            VaeConfig::fromJson(write(R"({"block_out_channels": [128, 256], "latent_channels": 16,
                "layers_per_block": 2, "use_quant_conv": false, "use_post_quant_conv": false, "act_fn": "gelu"})")),
            "act_fn 'gelu'");
    }

    void missingUnexpectedAndMisshapedTensorsAreListed() {
        const TensorStore src = TensorStore::open(vaeFolder("vae_2level"));
        std::map<std::string, at::Tensor> t;
        for (const auto& n : src.names()) t[n] = src.get(n);
        t.erase("decoder.up_blocks.0.resnets.1.conv2.weight");
        t.erase("encoder.mid_block.attentions.0.to_k.bias");
        t["decoder.up_blocks.1.resnets.0.norm1.weight"] = at::zeros({9});
        t["decoder.extra.weight"] = at::zeros({1});
        t["post_quant_conv.weight"] = at::zeros({16, 16, 1, 1});
        VaeLoadOptions options;
        options.config = goldenConfig("vae_2level");
        const TensorStore broken = TensorStore::fromTensors(t, "broken-vae");
        SWD_EXPECT_ERROR(AutoencoderKl::load(broken, at::kFloat, at::kCPU, options), "broken-vae",
                         "missing 2 tensor(s): ", "decoder.up_blocks.0.resnets.1.conv2.weight",
                         "encoder.mid_block.attentions.0.to_k.bias",
                         "decoder.up_blocks.1.resnets.0.norm1.weight [9] (expected [16])",
                         "unexpected 2 tensor(s): ", "decoder.extra.weight", "post_quant_conv.weight",
                         "SD1/SDXL");
        // Decoder only: encoder tensors are neither needed nor unexpected.
        std::map<std::string, at::Tensor> decoderOnly;
        for (const auto& n : src.names())
            if (n.rfind("decoder.", 0) == 0) decoderOnly[n] = src.get(n);
        options.withEncoder = false;
        const auto vae = AutoencoderKl::load(TensorStore::fromTensors(decoderOnly, "decoder-only"),
                                             at::kFloat, at::kCPU, options);
        QVERIFY(!vae->hasEncoder());
        SWD_EXPECT_ERROR(vae->encode(at::zeros({1, 3, 8, 8})), "without its encoder");
        // Same with LDM names: the reported names are the file's own.
        std::map<std::string, at::Tensor> ldm;
        for (const auto& n : src.names())
            if (n != "decoder.up_blocks.0.resnets.0.conv1.bias") ldm[ldmName(n, 2)] = src.get(n);
        options.withEncoder = true;
        SWD_EXPECT_ERROR(
            AutoencoderKl::load(TensorStore::fromTensors(ldm, "ldm"), at::kFloat, at::kCPU, options), "LDM",
            "missing 1 tensor(s): decoder.up.1.block.0.conv1.bias");
        SWD_EXPECT_ERROR(AutoencoderKl::load(TensorStore::fromTensors({{"a", at::zeros({1})}}, "nothing")),
                         "has no VAE");
    }

    // ---- inputs ------------------------------------------------------------------------------------

    void badInputsGiveClearErrors() {
        const auto vae = loadGolden("vae_4level");
        SWD_EXPECT_ERROR(vae->decode(at::zeros({1, 4, 8, 8})), "[batch, 16, height, width]", "[1, 4, 8, 8]",
                         "SD1/SDXL");
        SWD_EXPECT_ERROR(vae->decode(at::zeros({16, 8, 8})), "[batch, 16, height, width]", "[16, 8, 8]");
        SWD_EXPECT_ERROR(vae->decode(at::zeros({1, 16, 0, 8})), "empty");
        SWD_EXPECT_ERROR(vae->decode(at::zeros({1, 16, 2, 2}, at::kLong)), "floating point");
        SWD_EXPECT_ERROR(vae->decodeToImage(at::zeros({1, 8, 2, 2})), "[batch, 16, height, width]");
        SWD_EXPECT_ERROR(vae->encode(at::zeros({1, 3, 30, 32})), "multiples of 8", "30x32");
        SWD_EXPECT_ERROR(vae->encode(at::zeros({1, 4, 32, 32})), "[batch, 3, height, width]");
        SWD_EXPECT_ERROR(vae->encode(at::zeros({1, 3, 4, 8})), "multiples of 8");
        // Odd latent sizes are fine to decode: 8 px per latent pixel.
        QCOMPARE(vae->decode(at::zeros({1, 16, 3, 5})).sizes().vec(), (std::vector<int64_t>{1, 3, 24, 40}));
        SWD_EXPECT_ERROR(AutoencoderKl::load(TensorStore::open(vaeFolder("vae_4level")), at::kHalf),
                         "float16", "bfloat16");
        SWD_EXPECT_ERROR(AutoencoderKl::load(TensorStore::open(vaeFolder("vae_4level")), at::kInt),
                         "not supported");
    }

    // ---- fast paths --------------------------------------------------------------------------------

    // The fused sub-pixel upsample and channels-last layout compute the same function as the plain path.
    void fastPathsEqualPlainPath() {
        VaeLoadOptions plain;
        plain.fusedUpsample = false;
        plain.channelsLast = false;
        const auto reference = loadGolden("vae_4level", at::kFloat, plain);
        auto gen = at::detail::createCPUGenerator(9);
        const at::Tensor z = at::randn({1, 16, 5, 7}, gen);
        const at::Tensor expected = reference->decode(z);
        for (bool fused : {false, true})
            for (bool cl : {false, true}) {
                VaeLoadOptions o;
                o.fusedUpsample = fused;
                o.channelsLast = cl;
                const double err = maxAbsDiff(loadGolden("vae_4level", at::kFloat, o)->decode(z), expected);
                QVERIFY2(err < 1e-5, qPrintable(QString("fused %1 cl %2: %3").arg(fused).arg(cl).arg(err)));
            }
        // bf16 runs the same model within bf16 precision.
        const double err = maxAbsDiff(loadGolden("vae_4level", at::kBFloat16)->decode(z), expected);
        QVERIFY2(err < 0.1, qPrintable(QString("bf16 vs fp32: %1").arg(err)));
        QVERIFY(err > 0.0);  // really computed in bf16
    }

    // The fused convolution (oneDNN on channels-last CPU tensors: bias, residual and ReLU in the kernel) and
    // the fused GroupNorm + SiLU against ATen's reference ops.
    void fusedOpsMatchAten() {
        auto gen = at::detail::createCPUGenerator(5);
        for (const auto dtype : {at::kFloat, at::kBFloat16}) {
            const double tol = dtype == at::kFloat ? 1e-4 : 0.1;
            const at::Tensor x =
                at::randn({2, 16, 9, 7}, gen).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
            for (int64_t stride : {1, 2})
                for (int64_t k : {1, 3}) {
                    const at::Tensor w = (at::randn({24, 16, k, k}, gen) * 0.2).to(dtype);
                    const at::Tensor b = at::randn({24}, gen).to(dtype);
                    const ConvLayer conv(w, b, stride, k / 2);
                    const at::Tensor ref = at::conv2d(x.to(at::kFloat), w.to(at::kFloat), b.to(at::kFloat),
                                                      {stride, stride}, {k / 2, k / 2});
                    QVERIFY(maxAbsDiff(conv(x), ref) < tol);
                    QCOMPARE(conv.outputSize(9), ref.size(2));
                    at::Tensor acc =
                        at::randn(ref.sizes(), gen).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
                    const at::Tensor expected = (ref + acc.to(at::kFloat)).relu();
                    const at::Tensor got = conv(x, acc, true);
                    QCOMPARE(got.data_ptr(), acc.data_ptr());  // in place
                    QVERIFY(maxAbsDiff(got, expected) < tol);
                }
            const at::Tensor gw = at::randn({16}, gen).to(dtype), gb = at::randn({16}, gen).to(dtype);
            const at::Tensor ref = at::silu(at::group_norm(x.to(at::kFloat).contiguous() * 3 + 5, 4,
                                                           gw.to(at::kFloat), gb.to(at::kFloat), 1e-6));
            const at::Tensor shifted =
                (x.to(at::kFloat) * 3 + 5).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
            QVERIFY(maxAbsDiff(groupNormSilu(shifted, 4, gw, gb, 1e-6, true), ref) <
                    (dtype == at::kFloat ? 1e-5 : 0.1));
        }
    }

    // Winograd F(2x2, 3x3) against the fp32 convolution of the same bf16 data: odd and even sizes, 1x1
    // images (all padding), two images whose tile rows share one band, several bands, bias and residual;
    // channel counts that are not multiples of 16 take the portable transforms instead of the AVX-512
    // ones. Its error must stay of the order of the direct bf16 convolution's.
    void winogradConvMatchesDirect() {
        using Mode = WinogradConv3x3::Mode;
        auto gen = at::detail::createCPUGenerator(21);
        struct Case {
            Mode mode;
            int64_t n, c, k, h, w;
            bool bias, residual;
        };
        // Upsample2x: conv3x3(upsample_nearest2d(x, 2)) from the small x.
        for (const Case& t :
             {Case{Mode::Plain, 2, 64, 48, 9, 7, true, false},
              Case{Mode::Plain, 1, 64, 64, 1, 1, false, true}, Case{Mode::Plain, 1, 32, 40, 2, 5, true, true},
              Case{Mode::Plain, 2, 64, 64, 40, 40, true, true},
              Case{Mode::Plain, 1, 512, 512, 40, 33, true, false},
              Case{Mode::Plain, 2, 24, 40, 7, 6, true, true},
              Case{Mode::Upsample2x, 1, 64, 48, 5, 7, true, false},
              Case{Mode::Upsample2x, 2, 32, 32, 1, 2, false, true},
              Case{Mode::Upsample2x, 1, 256, 256, 24, 20, true, false},
              Case{Mode::Upsample2x, 1, 24, 40, 6, 5, true, true}}) {
            const bool up = t.mode == Mode::Upsample2x;
            const int64_t oh = up ? 2 * t.h : t.h, ow = up ? 2 * t.w : t.w;
            auto bf16ChannelsLast = [](const at::Tensor& v) {
                return v.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
            };
            const at::Tensor x = bf16ChannelsLast(at::randn({t.n, t.c, t.h, t.w}, gen));
            const at::Tensor w = (at::randn({t.k, t.c, 3, 3}, gen) / std::sqrt(9.0 * t.c)).to(at::kBFloat16);
            const at::Tensor b = t.bias ? at::randn({t.k}, gen).to(at::kBFloat16) : at::Tensor();
            const at::Tensor acc =
                t.residual ? bf16ChannelsLast(at::randn({t.n, t.k, oh, ow}, gen)) : at::Tensor();
            const at::Tensor in = up ? at::upsample_nearest2d(x, {oh, ow}) : x;  // exact in bf16
            at::Tensor ref = at::conv2d(in.to(at::kFloat), w.to(at::kFloat),
                                        b.defined() ? b.to(at::kFloat) : b, {1, 1}, {1, 1});
            if (acc.defined()) ref = ref + acc.to(at::kFloat);

            const WinogradConv3x3 winograd(w, b, t.mode);
            if (!winograd.accepts(x)) {  // no oneDNN bf16 kernels here: it must refuse, not compute
                QVERIFY_EXCEPTION_THROWN(winograd(x), std::exception);
                continue;
            }
            const at::Tensor got = winograd(x, acc.defined() ? acc.clone() : acc);
            QCOMPARE(got.sizes(), ref.sizes());
            QVERIFY(got.is_contiguous(at::MemoryFormat::ChannelsLast));
            // The direct bf16 convolution of the same input, its residual add rounded like the fused one.
            WinogradConv3x3::setEnabled(false);
            const at::Tensor direct =
                ConvLayer(w, b, 1, 1)(bf16ChannelsLast(in), acc.defined() ? acc.clone() : acc);
            WinogradConv3x3::setEnabled(true);
            const double errW = maxAbsDiff(got, ref), errD = maxAbsDiff(direct, ref);
            const double scale = ref.abs().max().item<double>();
            const QString what = QString("%1 n%2 c%3 k%4 %5x%6: winograd %7, direct %8, max|y| %9")
                                     .arg(up ? "upsample" : "plain")
                                     .arg(t.n)
                                     .arg(t.c)
                                     .arg(t.k)
                                     .arg(t.h)
                                     .arg(t.w)
                                     .arg(errW)
                                     .arg(errD)
                                     .arg(scale);
            qDebug("%s", qPrintable(what));
            QVERIFY2(errW <= 3.0 * errD + 1e-3 && errW < 0.02 * scale, qPrintable(what));
            if (up && !acc.defined()) {  // the VAE's upsampling conv uses it
                const FusedUpsampleConv fused = fuseUpsampleConv(w, b, at::kBFloat16, at::kCPU, true);
                QVERIFY(at::equal(upsampleConv(x, fused, true), got));
            }
        }
        // ConvLayer routes bf16 3x3 convolutions through it (and gives the same result).
        const at::Tensor x =
            at::randn({1, 64, 6, 6}, gen).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor w = (at::randn({64, 64, 3, 3}, gen) * 0.05).to(at::kBFloat16);
        if (WinogradConv3x3(w, {}).accepts(x))
            QVERIFY(at::equal(ConvLayer(w, {}, 1, 1)(x), WinogradConv3x3(w, {})(x)));
        QVERIFY_EXCEPTION_THROWN(WinogradConv3x3(w, {})(x.to(at::kFloat)), std::exception);
    }

    // ---- tiling ------------------------------------------------------------------------------------

    void tilePlanCoversWithOverlap() {
        for (int64_t length : {1, 5, 8, 24, 64, 100, 128, 129, 200, 1000})
            for (int tile : {4, 8, 12, 64})
                for (int overlap : {0, 1, 3, tile / 2, tile - 1}) {
                    if (overlap >= tile) continue;
                    const auto spans = planTiles(length, tile, overlap);
                    QVERIFY(!spans.empty());
                    QCOMPARE(spans.front().start, int64_t(0));
                    QCOMPARE(spans.back().start + spans.back().size, length);
                    for (std::size_t i = 0; i < spans.size(); ++i) {
                        QVERIFY(spans[i].size <= std::max<int64_t>(tile, 0) || spans.size() == 1);
                        QCOMPARE(spans[i].size, spans.front().size);
                        if (i > 0)
                            QVERIFY(spans[i - 1].start + spans[i - 1].size - spans[i].start >= overlap);
                        if (i > 0) QVERIFY(spans[i].start > spans[i - 1].start);
                    }
                    if (length <= tile) QCOMPARE(spans.size(), std::size_t(1));
                }
        // 1024 px SD3 with 512-px tiles and 128-px overlap: 3 x 3 tiles of 54 latent pixels.
        const auto spans = planTiles(128, 64, 16);
        QCOMPARE(spans.size(), std::size_t(3));
        QCOMPARE(spans[0].size, int64_t(54));
        SWD_EXPECT_ERROR(planTiles(10, 4, 4), "overlap");
    }

    void tiledDecodeHasNoVisibleSeam() {
        // The golden tiny VAE's random GroupNorm groups (2 channels) have almost no spread on a smooth
        // latent, so any tiling changes its output by up to 1.0 (measured), even with exact statistics. In a
        // trained decoder the channels of a group differ in offset; N(0, 2²) conv biases give the small model
        // that property (measured: untiled image std 0.17).
        const TensorStore src = TensorStore::open(vaeFolder("vae_4level"));
        std::map<std::string, at::Tensor> t;
        auto gen = at::detail::createCPUGenerator(17);
        for (const auto& n : src.names()) {
            const bool convBias = src.info(n).shape.size() == 1 && n.find("norm") == std::string::npos &&
                                  n.find("conv_out") == std::string::npos;
            t[n] = convBias ? at::randn(src.info(n).shape, gen) * 2.0 : src.get(n);
        }
        VaeLoadOptions options;
        options.config = goldenConfig("vae_4level");
        const auto vae =
            AutoencoderKl::load(TensorStore::fromTensors(t, "conditioned"), at::kFloat, at::kCPU, options);

        const at::Tensor z = smoothLatent(32, 32, 4);
        const at::Tensor full = vae->decodeToImage(z, TilingOptions::never());
        // A tile as large as the latent is the untiled decode; Auto leaves small latents untiled.
        QVERIFY(at::equal(vae->decodeToImage(z, TilingOptions::always(32, 8)), full));
        QVERIFY(at::equal(vae->decodeToImage(z, TilingOptions{}), full));
        // 3 x 3 tiles of 16 latent px (128 px) overlapping by 8.
        const at::Tensor own = vae->decodeToImage(z, TilingOptions::always(16, 8, 0));
        const at::Tensor shared1 = vae->decodeToImage(z, TilingOptions::always(16, 8, 1));
        const at::Tensor shared2 = vae->decodeToImage(z, TilingOptions::always(16, 8, 2));
        const at::Tensor pasted = vae->decodeToImage(z, TilingOptions::always(16, 0, 0));  // no overlap
        QCOMPARE(own.sizes().vec(), full.sizes().vec());
        const double eOwn = maxAbsDiff(own, full), e1 = maxAbsDiff(shared1, full),
                     e2 = maxAbsDiff(shared2, full);
        const double ePasted = maxAbsDiff(pasted, full);
        // A seam is a step in the error image: the largest jump of (tiled − untiled) between neighbouring
        // pixels.
        auto step = [&](const at::Tensor& tiled) {
            const at::Tensor d = (tiled - full).to(at::kDouble);
            const double dy = (d.slice(2, 1) - d.slice(2, 0, -1)).abs().max().item<double>();
            const double dx = (d.slice(3, 1) - d.slice(3, 0, -1)).abs().max().item<double>();
            return std::max(dx, dy);
        };
        const double sOwn = step(own), sPasted = step(pasted);
        qInfo(
            "smooth latent, 256 px, 3x3 tiles of 128 px, overlap 64 px: max |tiled - untiled| = %.4f (tile "
            "statistics), %.4f / %.4f (1 / 2 statistics passes), %.4f (no overlap); largest step of the "
            "error "
            "between neighbouring pixels %.4f blended, %.4f without overlap",
            eOwn, e1, e2, ePasted, sOwn, sPasted);
        QVERIFY2(eOwn < 0.1, qPrintable(QString::number(eOwn)));
        QVERIFY(e1 < eOwn && e2 < e1);  // shared statistics bring the tiles towards the untiled decode
        QVERIFY(ePasted > 4 * eOwn);
        QVERIFY(sPasted > 5 * sOwn);  // the ramps remove the edge a pasted tile leaves
        // Batched tiled decoding equals decoding the images one by one.
        const at::Tensor z2 = at::cat({z, smoothLatent(32, 32, 5)}, 0);
        const at::Tensor both = vae->decodeToImage(z2, TilingOptions::always(16, 8, 0));
        QVERIFY(maxAbsDiff(both.narrow(0, 0, 1), own) < 1e-6);
        SWD_EXPECT_ERROR(vae->decodeToImage(z, TilingOptions::always(16, 16)), "overlap");
    }

    // ---- previews ----------------------------------------------------------------------------------

    void previewModeNames() {
        for (int i = 0; i < kPreviewModeCount; ++i) {
            const auto mode = static_cast<PreviewMode>(i);
            QCOMPARE(parsePreviewMode(previewModeName(mode)), mode);
        }
        QCOMPARE(std::string(previewModeName(PreviewMode::Taesd)), std::string("taesd"));
        SWD_EXPECT_ERROR(parsePreviewMode("fast"), "'fast'", "projection");
    }

    void projectionPreviewUsesSd3Factors() {
        LatentPreviewer p(PreviewMode::Projection);
        QCOMPARE(p.pixelsPerLatent(), 1);
        // A zero latent shows the bias: round(255·(b + 1)/2) for b = 0.2394, 0.2135, 0.1925 -> 158, 155, 152.
        const at::Tensor zero = p.preview(at::zeros({2, 16, 3, 5}));
        QCOMPARE(zero.sizes().vec(), (std::vector<int64_t>{2, 3, 5, 3}));
        QCOMPARE(zero.scalar_type(), at::kByte);
        QCOMPARE(zero[1][2][4][0].item<int>(), 158);
        QCOMPARE(zero[1][2][4][1].item<int>(), 155);
        QCOMPARE(zero[0][0][0][2].item<int>(), 152);
        // Channel 2 alone at 2.0 adds 2·(0.1994, 0.0927, 0.0458): 0.6382, 0.3989, 0.2841 -> 209, 178, 164.
        at::Tensor z = at::zeros({1, 16, 1, 1});
        z[0][2][0][0] = 2.0f;
        const at::Tensor px = p.preview(z);
        QCOMPARE(px[0][0][0][0].item<int>(), 209);
        QCOMPARE(px[0][0][0][1].item<int>(), 178);
        QCOMPARE(px[0][0][0][2].item<int>(), 164);
        // Saturates instead of wrapping.
        const at::Tensor big = p.preview(at::full({1, 16, 1, 1}, -100.0f));
        QVERIFY(big.max().item<int>() <= 255);
        SWD_EXPECT_ERROR(p.preview(at::zeros({1, 4, 2, 2})), "[batch, 16, height, width]");
        LatentPreviewer off(PreviewMode::Off);
        QVERIFY(!off.preview(at::zeros({1, 16, 2, 2})).defined());
    }

    void fullVaePreviewIsTheFinalImage() {
        std::shared_ptr<AutoencoderKl> vae = loadGolden("vae_4level");
        LatentPreviewer p(PreviewMode::FullVae, vae);
        QCOMPARE(p.pixelsPerLatent(), 8);
        const at::Tensor z = smoothLatent(4, 6, 1);
        QVERIFY(at::equal(p.preview(z), imageToUint8Hwc(vae->decodeToImage(z))));
        SWD_EXPECT_ERROR(LatentPreviewer(PreviewMode::FullVae), "needs the loaded VAE");
        SWD_EXPECT_ERROR(LatentPreviewer(PreviewMode::Taesd), "needs TAESD weights");
    }

    // No reference outputs exist for TAESD here: shape, determinism, both file layouts, the clamp and
    // load errors, on random weights.
    void taesdOnRandomWeights() {
        ScratchDir dir;
        const auto weights = randomTaesd(16, 21);
        std::vector<std::pair<std::string, at::Tensor>> taesdFile, diffusersFile;
        for (const auto& [n, t] : weights) {
            taesdFile.push_back({n, t});
            diffusersFile.push_back({taesdDiffusersName(n), t});
        }
        // AutoencoderTiny files carry the encoder too.
        diffusersFile.push_back({"encoder.layers.0.weight", at::zeros({64, 3, 3, 3})});
        saveSafetensors(dir.file("taesd3_decoder.safetensors"), taesdFile);
        std::filesystem::create_directory(dir.file("taesd3"));
        saveSafetensors(dir.file("taesd3") / "diffusion_pytorch_model.safetensors", diffusersFile);

        const auto a = TaesdDecoder::load(TensorStore::open(dir.file("taesd3_decoder.safetensors")));
        const auto b = TaesdDecoder::load(TensorStore::open(dir.file("taesd3")));
        QCOMPARE(a->layout(), TaesdLayout::TaesdFile);
        QCOMPARE(b->layout(), TaesdLayout::Diffusers);
        QCOMPARE(a->latentChannels(), 16);
        auto gen = at::detail::createCPUGenerator(2);
        const at::Tensor z = at::randn({2, 16, 5, 3}, gen);
        const at::Tensor img = a->decodeToImage(z);
        QCOMPARE(img.sizes().vec(), (std::vector<int64_t>{2, 3, 40, 24}));
        QVERIFY(img.min().item<float>() >= 0.0f && img.max().item<float>() <= 1.0f);
        QVERIFY(img.std().item<float>() > 0.0f);
        QVERIFY(at::equal(img, a->decodeToImage(z)));  // deterministic
        QVERIFY(at::equal(img, b->decodeToImage(z)));  // both layouts are one model
        QVERIFY(!at::equal(img.narrow(0, 0, 1), img.narrow(0, 1, 1)));
        // The input clamp tanh(x/3)·3: beyond ±30 the latent saturates, so 40 and 80 decode alike.
        QVERIFY(maxAbsDiff(a->decodeToImage(at::full({1, 16, 2, 2}, 40.0f)),
                           a->decodeToImage(at::full({1, 16, 2, 2}, 80.0f))) < 1e-5);
        // bf16 is the same model within bf16 precision.
        const auto half =
            TaesdDecoder::load(TensorStore::open(dir.file("taesd3_decoder.safetensors")), at::kBFloat16);
        QVERIFY(maxAbsDiff(half->decodeToImage(z), img) < 0.1);
        // Zero weights except the last bias: the image is that bias, everywhere.
        std::map<std::string, at::Tensor> constant;
        for (const auto& [n, t] : weights) constant[n] = at::zeros_like(t);
        constant["19.bias"] = at::tensor({0.25f, 0.5f, 2.0f});
        const at::Tensor c =
            TaesdDecoder::load(TensorStore::fromTensors(constant, "const"))->decodeToImage(z);
        QCOMPARE(c[1][0][7][3].item<float>(), 0.25f);
        QCOMPARE(c[0][1][0][0].item<float>(), 0.5f);
        QCOMPARE(c[0][2][39][23].item<float>(), 1.0f);  // clamped
        // Through the previewer.
        LatentPreviewer p(
            PreviewMode::Taesd, nullptr,
            std::shared_ptr<TaesdDecoder>(TaesdDecoder::load(TensorStore::open(dir.file("taesd3")))));
        QCOMPARE(p.pixelsPerLatent(), 8);
        QVERIFY(at::equal(p.preview(z), imageToUint8Hwc(img)));
    }

    void taesdLoadErrors() {
        auto weights = randomTaesd(16, 1);
        auto missing = weights;
        missing.erase("8.conv.2.bias");
        SWD_EXPECT_ERROR(TaesdDecoder::load(TensorStore::fromTensors(missing, "taesd-m")), "taesd-m",
                         "missing 1 tensor(s): 8.conv.2.bias");
        auto wrong = weights;
        wrong["7.weight"] = at::zeros({64, 64, 1, 1});
        wrong["99.weight"] = at::zeros({1});
        SWD_EXPECT_ERROR(TaesdDecoder::load(TensorStore::fromTensors(wrong, "taesd-w")),
                         "7.weight [64, 64, 1, 1] (expected [64, 64, 3, 3])",
                         "unexpected 1 tensor(s): 99.weight");
        SWD_EXPECT_ERROR(TaesdDecoder::load(TensorStore::fromTensors({{"x", at::zeros({1})}}, "junk")),
                         "is not a TAESD decoder");
        // An SD1 TAESD (4 latent channels) loads, but the SD3 previewer refuses it.
        std::shared_ptr<TaesdDecoder> sd1 =
            TaesdDecoder::load(TensorStore::fromTensors(randomTaesd(4, 2), "taesd"));
        QCOMPARE(sd1->latentChannels(), 4);
        SWD_EXPECT_ERROR(LatentPreviewer(PreviewMode::Taesd, nullptr, sd1), "4-channel", "taesd3");
        SWD_EXPECT_ERROR(sd1->decodeToImage(at::zeros({1, 16, 2, 2})), "[batch, 4, height, width]");
    }

    // ---- SD1.5 / SDXL (4 latent channels, quant convs) ---------------------------------------------

    void sdGoldenDecodeAndEncode() {
        const GoldenReport report = runGoldenCase(swd::test::goldenDir("vae_sd"));
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        // the config check, 3 decode runs and 2 encode runs (mean, logvar, std)
        QCOMPARE(report.runs.size(), std::size_t(1 + 3 + 2 * 3));
    }

    // sd15() / sdxl() list exactly the parameters of the real VAEs (manifests_sd, from the real config.json
    // files), the LDM names map to the original single-file names, and fromJson of the real config.json
    // gives the same config.
    void realSdNamesMatchManifests_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("sd15") << "sd15";
        QTest::newRow("sdxl") << "sdxl";
    }
    void realSdNamesMatchManifests() {
        QFETCH(QString, model);
        const bool xl = model == "sdxl";
        const VaeConfig config = xl ? VaeConfig::sdxl() : VaeConfig::sd15();
        std::ifstream in(swd::test::goldenDir("manifests_sd") / (xl ? "vae_sdxl.json" : "vae_sd15.json"));
        const auto manifest = nlohmann::json::parse(in);
        std::map<std::string, std::vector<int64_t>> expected, got;
        for (const auto& p : manifest.at("diffusers"))
            expected[p.at("name").get<std::string>()] = p.at("shape").get<std::vector<int64_t>>();
        int64_t count = 0;
        for (const auto& [name, shape] : vaeParameterShapes(config)) {
            got[name] = shape;
            int64_t n = 1;
            for (auto d : shape) n *= d;
            count += n;
        }
        QCOMPARE(got.size(), expected.size());
        QVERIFY(got == expected);
        QCOMPARE(count, manifest.at("total_params").get<int64_t>());
        for (const auto& e : manifest.at("single_file").at("entries")) {
            const std::string diffusersName = e.at("diffusers").at(0).get<std::string>();
            QCOMPARE(std::string("first_stage_model.") + vaeLdmName(diffusersName, 4),
                     e.at("original").get<std::string>());
            QCOMPARE(isVaeAttentionMatrix(diffusersName),
                     e.at("op").get<std::string>() == "linear_to_conv1x1");
        }
        QCOMPARE(manifest.at("scaling_factor").get<double>(), config.scalingFactor);
        QCOMPARE(manifest.at("force_upcast").get<bool>(), config.forceUpcast);
        ScratchDir dir;
        swd::test::writeBytes(dir.file("config.json"), manifest.at("real_config").dump());
        QVERIFY(VaeConfig::fromJson(dir.file("config.json")) == config);
        // Without the encoder there is no quant_conv, but post_quant_conv stays.
        bool quant = false, postQuant = false;
        for (const auto& [name, shape] : vaeParameterShapes(config, false)) {
            quant = quant || name.rfind("quant_conv.", 0) == 0;
            postQuant = postQuant || name == "post_quant_conv.weight";
        }
        QVERIFY(!quant && postQuant);
    }

    void sdConfigsLayoutsAndErrors() {
        const VaeConfig sd15 = goldenConfig("vae_sd15"), sdxl = goldenConfig("vae_sdxl");
        QCOMPARE(sd15.latentChannels, 4);
        QVERIFY(sd15.useQuantConv && sd15.usePostQuantConv && sdxl.useQuantConv && sdxl.forceUpcast);
        QCOMPARE(sd15.scalingFactor, 0.18215);
        QCOMPARE(sdxl.scalingFactor, 0.13025);
        QCOMPARE(sdxl.shiftFactor, 0.0);  // "shift_factor": null
        // The weights show the quant convs; scaling and shift are then diffusers' defaults (SD1.5's).
        VaeConfig small = VaeConfig::sd15();
        small.blockOutChannels = {32, 64};
        small.layersPerBlock = 1;
        std::map<std::string, at::Tensor> tensors, ldm;
        for (const auto& [n, shape] : vaeParameterShapes(small)) tensors[n] = at::zeros(shape);
        QVERIFY(VaeConfig::fromWeights(TensorStore::fromTensors(tensors, "mem")) == small);
        for (const auto& [n, t] : tensors) ldm["first_stage_model." + vaeLdmName(n, 2)] = t;
        QVERIFY(ldm.count("first_stage_model.quant_conv.weight") &&
                ldm.count("first_stage_model.post_quant_conv.bias"));
        QVERIFY(VaeConfig::fromWeights(TensorStore::fromTensors(ldm, "mem")) == small);

        // A single-file checkpoint (LDM names under first_stage_model.) is the same model.
        ScratchDir dir;
        const auto file = writeSingleFile(dir, "vae_sdxl", 4);
        VaeLoadOptions options;
        options.config = sdxl;
        const auto single = AutoencoderKl::load(TensorStore::open(file), at::kFloat, at::kCPU, options);
        const auto reference = loadGolden("vae_sdxl");
        auto gen = at::detail::createCPUGenerator(8);
        const at::Tensor z = at::randn({1, 4, 3, 5}, gen);
        QVERIFY(at::equal(single->decode(z), reference->decode(z)));
        const at::Tensor img = at::rand({1, 3, 16, 24}, gen) * 2 - 1;
        QVERIFY(at::equal(single->encode(img).first, reference->encode(img).first));

        // The config and the weights disagree about the quant convs: the message says so.
        VaeConfig noQuant = sdxl;
        noQuant.useQuantConv = noQuant.usePostQuantConv = false;
        options.config = noQuant;
        SWD_EXPECT_ERROR(
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kFloat, at::kCPU, options),
            "unexpected 4 tensor(s)", "quant_conv", "use_quant_conv");
        VaeConfig sd3WithQuant = goldenConfig("vae_4level");
        sd3WithQuant.useQuantConv = sd3WithQuant.usePostQuantConv = true;
        options.config = sd3WithQuant;
        SWD_EXPECT_ERROR(
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_4level")), at::kFloat, at::kCPU, options),
            "missing 4 tensor(s)", "post_quant_conv.weight", "sets both to false");
        // Decoder only: quant_conv is neither read nor unexpected.
        VaeLoadOptions decoderOnly;
        decoderOnly.withEncoder = false;
        const auto dec =
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kFloat, at::kCPU, decoderOnly);
        QVERIFY(at::equal(dec->decode(z), reference->decode(z)));
        // Latents of the other family are named as such.
        SWD_EXPECT_ERROR(reference->decode(at::zeros({1, 16, 2, 2})), "[batch, 4, height, width]", "SD3");
        SWD_EXPECT_ERROR(loadGolden("vae_4level")->decode(at::zeros({1, 4, 2, 2})), "SD1/SDXL");
    }

    // decodeToImage divides by the config's scaling factor (SD1.5 0.18215, SDXL 0.13025, no shift).
    void sdDecodeToImageUsesTheConfigScaling_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<double>("scaling");
        QTest::newRow("vae_sd15") << "vae_sd15" << 0.18215;
        QTest::newRow("vae_sdxl") << "vae_sdxl" << 0.13025;
    }
    void sdDecodeToImageUsesTheConfigScaling() {
        QFETCH(QString, name);
        QFETCH(double, scaling);
        const auto vae = loadGolden(name.toStdString());
        QCOMPARE(vae->config().scalingFactor, scaling);
        auto gen = at::detail::createCPUGenerator(9);
        const at::Tensor z = at::randn({2, 4, 3, 4}, gen) * scaling;
        const at::Tensor expected = (vae->decode(z.to(at::kFloat) / scaling) / 2 + 0.5).clamp(0.0, 1.0);
        const at::Tensor image = vae->decodeToImage(z);
        QCOMPARE(image.sizes().vec(), (std::vector<int64_t>{2, 3, 24, 32}));
        QVERIFY(maxAbsDiff(image, expected) < 1e-6);
    }

    // A 4-channel latent decodes tile by tile like a 16-channel one (post_quant_conv is 1x1, so per tile
    // it is exact); the tiled image stays within a bound of the untiled one.
    void sdTiledDecodeMatchesUntiled() {
        const auto vae = conditionedVae("vae_sdxl", 23);
        const at::Tensor z = smoothLatent(32, 32, 6, 4);
        const at::Tensor full = vae->decodeToImage(z, TilingOptions::never());
        QVERIFY(at::equal(vae->decodeToImage(z, TilingOptions::always(32, 8)), full));
        const at::Tensor own = vae->decodeToImage(z, TilingOptions::always(16, 8, 0));
        const at::Tensor shared = vae->decodeToImage(z, TilingOptions::always(16, 8, 1));
        const double eOwn = maxAbsDiff(own, full), eShared = maxAbsDiff(shared, full);
        qInfo(
            "SDXL-like VAE, 4-channel smooth latent 32x32, 3x3 tiles of 16 overlapping by 8: max |tiled - "
            "untiled| = %.4f (tile statistics), %.4f (1 statistics pass)",
            eOwn, eShared);
        QCOMPARE(own.sizes().vec(), full.sizes().vec());
        // Measured 0.044 / 0.024 on [0, 1] images; the bound leaves room for other BLAS builds.
        QVERIFY2(eOwn < 0.08, qPrintable(QString::number(eOwn)));
        QVERIFY2(eShared < eOwn, qPrintable(QString::number(eShared)));
    }

    // force_upcast: with honourForceUpcast an fp16 request runs in fp32 (what the SDXL pipeline does), also
    // on the CPU where fp16 has no kernels; without it (SD3's and SD1.5's pipelines) fp16 stays fp16.
    void fp16WithForceUpcastRunsInFp32() {
        VaeLoadOptions honour;
        honour.honourForceUpcast = true;
        const auto up =
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kHalf, at::kCPU, honour);
        QCOMPARE(up->dtype(), at::kFloat);
        const auto reference = loadGolden("vae_sdxl");
        const at::Tensor z = smoothLatent(4, 6, 3, 4);
        QVERIFY(at::equal(up->decode(z), reference->decode(z)));
        SWD_EXPECT_ERROR(AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kHalf), "float16",
                         "bfloat16");
        honour.config = goldenConfig("vae_sdxl");
        honour.config->forceUpcast = false;
        SWD_EXPECT_ERROR(
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kHalf, at::kCPU, honour),
            "float16");
        // bf16 has fp32's range: no upcast.
        honour.config = std::nullopt;
        QCOMPARE(
            AutoencoderKl::load(TensorStore::open(vaeFolder("vae_sdxl")), at::kBFloat16, at::kCPU, honour)
                ->dtype(),
            at::kBFloat16);
    }

    void sdPreviews() {
        // Projection: a zero latent shows the bias, round(255·(b + 1)/2): SDXL 0.1084, -0.0175, -0.0011 ->
        // 141, 125, 127; SD1.5 channel 0 at 1.0 gives (0.3512, 0.2297, 0.3227) -> 172, 157, 169.
        LatentPreviewer xl(PreviewMode::Projection, nullptr, nullptr, {}, LatentRgbProjection::sdxl());
        const at::Tensor zero = xl.preview(at::zeros({2, 4, 3, 5}));
        QCOMPARE(zero.sizes().vec(), (std::vector<int64_t>{2, 3, 5, 3}));
        QCOMPARE(zero.scalar_type(), at::kByte);
        QCOMPARE(zero[1][2][4][0].item<int>(), 141);
        QCOMPARE(zero[1][2][4][1].item<int>(), 125);
        QCOMPARE(zero[0][0][0][2].item<int>(), 127);
        LatentPreviewer sd15(PreviewMode::Projection, nullptr, nullptr, {}, LatentRgbProjection::sd15());
        at::Tensor z = at::zeros({1, 4, 1, 1});
        z[0][0][0][0] = 1.0f;
        const at::Tensor px = sd15.preview(z);
        QCOMPARE(px[0][0][0][0].item<int>(), 172);
        QCOMPARE(px[0][0][0][1].item<int>(), 157);
        QCOMPARE(px[0][0][0][2].item<int>(), 169);
        SWD_EXPECT_ERROR(sd15.preview(at::zeros({1, 16, 2, 2})), "SD1.5", "[batch, 4, height, width]");
        QCOMPARE(LatentRgbProjection::sdxl().channels(), 4);
        QCOMPARE(LatentRgbProjection::sd3().channels(), 16);

        // TAESD / TAESDXL: the same decoder with 4 input channels.
        std::shared_ptr<TaesdDecoder> taesdxl =
            TaesdDecoder::load(TensorStore::fromTensors(randomTaesd(4, 5), "taesdxl"));
        LatentPreviewer tiny(PreviewMode::Taesd, nullptr, taesdxl, {}, LatentRgbProjection::sdxl());
        const at::Tensor small = smoothLatent(3, 5, 4, 4);
        const at::Tensor rgb = tiny.preview(small);
        QCOMPARE(rgb.sizes().vec(), (std::vector<int64_t>{1, 24, 40, 3}));
        QCOMPARE(rgb.scalar_type(), at::kByte);
        QVERIFY(at::equal(rgb, imageToUint8Hwc(taesdxl->decodeToImage(small))));
        std::shared_ptr<TaesdDecoder> taesd3 =
            TaesdDecoder::load(TensorStore::fromTensors(randomTaesd(16, 5), "t3"));
        SWD_EXPECT_ERROR(
            LatentPreviewer(PreviewMode::Taesd, nullptr, taesd3, {}, LatentRgbProjection::sd15()),
            "16-channel", "SD1.5 needs taesd (4 channels)");

        // The full VAE preview is the final image.
        std::shared_ptr<AutoencoderKl> vae = loadGolden("vae_sdxl");
        LatentPreviewer full(PreviewMode::FullVae, vae, nullptr, {}, LatentRgbProjection::sdxl());
        QVERIFY(at::equal(full.preview(small), imageToUint8Hwc(vae->decodeToImage(small))));
    }
};

QTEST_GUILESS_MAIN(TestVae)
#include "tst_vae.moc"
