// core/models UNet (SD1.5 / SDXL UNet2DConditionModel): bf16 against the golden fp32 outputs, the parameter
// lists of the real models, config reading and refusals, timestep broadcasting, load errors. The fp32
// parity itself is `swd check-golden tests/data/golden/unet_sd*_like`.
#include "core/test_util.h"
#include "io/tensor_store.h"
#include "models/unet.h"
#include "models/unet_config.h"
#include "util/error.h"
#include "util/json_reader.h"

#include <QtTest>

#include <nlohmann/json.hpp>

using namespace swd;

namespace {

std::filesystem::path unetFolder(const std::string& caseName) {
    return swd::test::goldenDir(caseName) / "unet";
}

std::unique_ptr<SdUnet> loadGolden(const std::string& caseName, at::ScalarType dtype = at::kFloat) {
    const auto folder = unetFolder(caseName);
    return SdUnet::load(TensorStore::openFolder(folder), UnetConfig::fromJson(folder / "config.json"), dtype);
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

struct RunInputs {
    at::Tensor sample, timestep, context, text, ids;
};

RunInputs runInputs(const std::string& caseName, const std::string& run) {
    const TensorStore in = TensorStore::open(swd::test::goldenDir(caseName) / "inputs.safetensors");
    auto opt = [&](const std::string& k) { return in.has(run + k) ? in.get(run + k) : at::Tensor(); };
    return {in.get(run + ".sample"), in.get(run + ".timestep"), in.get(run + ".encoder_hidden_states"),
            opt(".text_embeds"), opt(".time_ids")};
}

nlohmann::json goldenConfigJson(const std::string& caseName) {
    return readJsonFile(unetFolder(caseName) / "config.json", "UNet config");
}

std::map<std::string, at::Tensor> goldenTensors(const std::string& caseName) {
    const TensorStore store = TensorStore::openFolder(unetFolder(caseName));
    std::map<std::string, at::Tensor> tensors;
    for (const auto& name : store.names()) tensors[name] = store.get(name).clone();
    return tensors;
}

}  // namespace

class TstUnet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void bf16ForwardNearGolden_data();
    void bf16ForwardNearGolden();
    void parameterShapesMatchRealManifests_data();
    void parameterShapesMatchRealManifests();
    void goldenConfigsRead();
    void realConfigsEqualPresets();
    void unsupportedValuesRefused();
    void oneTimestepBroadcasts();
    void loadListsBadTensors();
    void badInputsRefused();
};

void TstUnet::bf16ForwardNearGolden_data() {
    QTest::addColumn<QString>("caseName");
    QTest::addColumn<double>("bound");
    // Measured max |bf16 − golden fp32| over all runs (outputs up to ~1.4 in magnitude): sd15_like
    // 0.017, sdxl_like 0.015 (per run 0.008-0.017). The bound 0.04 leaves about 2.4x margin; a wrong op
    // (missing residual, swapped GEGLU halves, wrong head split) gives errors of order 0.1-1.
    QTest::newRow("sd15_like") << QString("unet_sd15_like") << 0.04;
    QTest::newRow("sdxl_like") << QString("unet_sdxl_like") << 0.04;
}

void TstUnet::bf16ForwardNearGolden() {
    QFETCH(QString, caseName);
    QFETCH(double, bound);
    const std::string name = caseName.toStdString();
    const auto unet = loadGolden(name, at::kBFloat16);
    QCOMPARE(unet->dtype(), at::kBFloat16);
    const TensorStore out = TensorStore::open(swd::test::goldenDir(name) / "outputs.safetensors");
    const auto caseJson = readJsonFile(swd::test::goldenDir(name) / "case.json", "case");
    double worst = 0.0;
    for (const auto& run : caseJson.at("runs")) {
        const std::string r = run.at("name").get<std::string>();
        const RunInputs in = runInputs(name, r);
        const at::Tensor got = unet->forward(in.sample, in.timestep, in.context, in.text, in.ids);
        QCOMPARE(got.scalar_type(), at::kFloat);
        const double err = maxAbsDiff(got, out.get(r + ".out"));
        qInfo("%s %s: max |bf16 - golden| = %.5f", name.c_str(), r.c_str(), err);
        worst = std::max(worst, err);
    }
    QVERIFY2(worst <= bound, qPrintable(QString("bf16 error %1 above the bound %2").arg(worst).arg(bound)));
}

void TstUnet::parameterShapesMatchRealManifests_data() {
    QTest::addColumn<QString>("manifest");
    QTest::addColumn<bool>("xl");
    QTest::addColumn<int>("count");
    QTest::newRow("sd15") << QString("unet_sd15.json") << false << 686;
    QTest::newRow("sdxl") << QString("unet_sdxl_base.json") << true << 1680;
}

void TstUnet::parameterShapesMatchRealManifests() {
    QFETCH(QString, manifest);
    QFETCH(bool, xl);
    QFETCH(int, count);
    const auto json =
        readJsonFile(swd::test::dataDir() / "golden" / "manifests_sd" / manifest.toStdString(), "manifest");
    const auto& expected = json.at("diffusers");
    const auto shapes = (xl ? UnetConfig::sdxl() : UnetConfig::sd15()).parameterShapes();
    QCOMPARE(static_cast<int>(expected.size()), count);
    QCOMPARE(static_cast<int>(shapes.size()), count);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const std::string name = expected[i].at("name").get<std::string>();
        const auto shape = expected[i].at("shape").get<std::vector<int64_t>>();
        QVERIFY2(shapes[i].first == name,
                 qPrintable(QString::fromStdString("#" + std::to_string(i) + ": " + shapes[i].first + " vs " +
                                                   name)));
        QVERIFY2(shapes[i].second == shape,
                 qPrintable(QString::fromStdString(name + ": " + shapeToString(shapes[i].second) + " vs " +
                                                   shapeToString(shape))));
    }
}

void TstUnet::goldenConfigsRead() {
    const UnetConfig sd = UnetConfig::fromJson(unetFolder("unet_sd15_like") / "config.json");
    using D = UnetConfig::DownType;
    using U = UnetConfig::UpType;
    QCOMPARE(sd.blockOutChannels, (std::vector<int>{8, 16, 16, 16}));
    QVERIFY(sd.downBlockTypes == (std::vector<D>{D::CrossAttn, D::CrossAttn, D::CrossAttn, D::Plain}));
    QVERIFY(sd.upBlockTypes == (std::vector<U>{U::Plain, U::CrossAttn, U::CrossAttn, U::CrossAttn}));
    QCOMPARE(sd.numHeads, (std::vector<int>{2, 2, 2, 2}));  // attention_head_dim 2 = the head count
    QCOMPARE(sd.transformerLayers, (std::vector<int>{1, 1, 1, 1}));
    QCOMPARE(sd.crossAttentionDim, 32);
    QCOMPARE(sd.normNumGroups, 4);
    QVERIFY(!sd.useLinearProjection);
    QVERIFY(!sd.textTimeEmbedding);

    const UnetConfig xl = UnetConfig::fromJson(unetFolder("unet_sdxl_like") / "config.json");
    QCOMPARE(xl.blockOutChannels, (std::vector<int>{8, 16, 24}));
    QVERIFY(xl.downBlockTypes == (std::vector<D>{D::Plain, D::CrossAttn, D::CrossAttn}));
    QCOMPARE(xl.numHeads, (std::vector<int>{1, 2, 3}));
    QCOMPARE(xl.transformerLayers, (std::vector<int>{1, 2, 3}));
    QCOMPARE(xl.crossAttentionDim, 48);
    QVERIFY(xl.useLinearProjection);
    QVERIFY(xl.textTimeEmbedding);
    QCOMPARE(xl.additionTimeEmbedDim, 8);
    QCOMPARE(xl.projectionClassEmbeddingsInputDim, 64);
    QCOMPARE(xl.textEmbedDim(), 16);
    QVERIFY(sd != xl);

    // The shapes the config implies are exactly the stored tensors.
    const TensorStore w = TensorStore::openFolder(unetFolder("unet_sdxl_like"));
    const auto shapes = xl.parameterShapes();
    QCOMPARE(shapes.size(), w.names().size());
    for (const auto& [name, shape] : shapes)
        QVERIFY2(w.has(name) && w.info(name).shape == shape, name.c_str());
}

void TstUnet::realConfigsEqualPresets() {
    for (const auto& [file, preset] :
         {std::pair<std::string, UnetConfig>{"unet_sd15.json", UnetConfig::sd15()},
          {"unet_sdxl_base.json", UnetConfig::sdxl()}}) {
        const auto json = readJsonFile(swd::test::dataDir() / "golden" / "manifests_sd" / file, "manifest");
        const UnetConfig real = UnetConfig::fromJson(json.at("real_config"), file);
        QVERIFY2(real == preset, qPrintable(QString::fromStdString(file + ": " + real.describe())));
    }
    QVERIFY(UnetConfig::sd15() != UnetConfig::sdxl());
}

void TstUnet::unsupportedValuesRefused() {
    auto refusal = [](const char* field, const nlohmann::json& value) {
        nlohmann::json j = goldenConfigJson("unet_sd15_like");
        if (std::string(field) == "down_block_types") {
            j[field][1] = value;
        } else {
            j[field] = value;
        }
        return swd::test::errorOf([&] { UnetConfig::fromJson(j, "config.json"); });
    };
    const std::vector<std::pair<const char*, nlohmann::json>> cases = {
        {"down_block_types", "SimpleCrossAttnDownBlock2D"},
        {"attention_type", "gated"},
        {"addition_embed_type", "text"},
        {"num_attention_heads", 8},
        {"resnet_time_scale_shift", "scale_shift"},
        {"class_embed_type", "timestep"},
        {"time_cond_proj_dim", 256},
        {"mid_block_type", "UNetMidBlock2DSimpleCrossAttn"},
        {"cross_attention_dim", nlohmann::json::array({32, 32, 32, 32})},
    };
    for (const auto& [field, value] : cases) {
        const std::string message = refusal(field, value);
        QVERIFY2(!message.empty(), field);
        QVERIFY2(message.find(field) != std::string::npos, qPrintable(QString::fromStdString(message)));
        QVERIFY2(message.find("config.json") != std::string::npos,
                 qPrintable(QString::fromStdString(message)));
    }
    // The unmodified config reads, so the refusals above come from the changed field.
    QVERIFY(refusal("attention_type", "default").empty());
    // Inconsistent numbers.
    nlohmann::json j = goldenConfigJson("unet_sd15_like");
    j["attention_head_dim"] = 3;  // 8 channels are not divisible by 3 heads
    SWD_EXPECT_ERROR(UnetConfig::fromJson(j, "config.json"), "attention heads", "block_out_channels[0]");
    j = goldenConfigJson("unet_sdxl_like");
    j["transformer_layers_per_block"] = nlohmann::json::array({1, 2});
    SWD_EXPECT_ERROR(UnetConfig::fromJson(j, "config.json"), "transformer_layers_per_block", "3 down blocks");
}

void TstUnet::oneTimestepBroadcasts() {
    const auto unet = loadGolden("unet_sd15_like");
    const RunInputs in = runInputs("unet_sd15_like", "8x12_b2");
    QCOMPARE(in.sample.size(0), 2);
    const at::Tensor repeated = unet->forward(in.sample, at::tensor({468, 468}, at::kLong), in.context);
    const at::Tensor one = unet->forward(in.sample, at::tensor({468}, at::kLong), in.context);
    const at::Tensor scalar = unet->forward(in.sample, at::scalar_tensor(468.0, at::kFloat), in.context);
    QCOMPARE(maxAbsDiff(one, repeated), 0.0);
    QCOMPARE(maxAbsDiff(scalar, repeated), 0.0);
    // The timestep matters (otherwise the comparisons above prove nothing).
    const at::Tensor other = unet->forward(in.sample, at::tensor({468, 1}, at::kLong), in.context);
    QVERIFY(maxAbsDiff(other[1], repeated[1]) > 1e-3);
    QCOMPARE(maxAbsDiff(other[0], repeated[0]), 0.0);

    // SDXL with a 0-d float timestep (what the Euler pipeline passes).
    const auto xl = loadGolden("unet_sdxl_like");
    const RunInputs x = runInputs("unet_sdxl_like", "8x12_b2");
    const at::Tensor a =
        xl->forward(x.sample, at::scalar_tensor(751.0, at::kFloat), x.context, x.text, x.ids);
    const at::Tensor b = xl->forward(x.sample, at::tensor({751, 751}, at::kLong), x.context, x.text, x.ids);
    QCOMPARE(maxAbsDiff(a, b), 0.0);
}

void TstUnet::loadListsBadTensors() {
    const UnetConfig config = UnetConfig::fromJson(unetFolder("unet_sd15_like") / "config.json");
    const std::string missing = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight";
    const std::string misshaped = "up_blocks.2.resnets.1.conv1.weight";
    auto tensors = goldenTensors("unet_sd15_like");
    QVERIFY(tensors.count(missing) && tensors.count(misshaped));
    // Sanity: the untouched weights load.
    SdUnet::load(TensorStore::fromTensors(tensors, "golden"), config);

    tensors.erase(missing);
    tensors[misshaped] = at::zeros({16, 8, 3, 3});
    tensors["extra.weight"] = at::zeros({3});
    const auto store = TensorStore::fromTensors(tensors, "edited unet");
    SWD_EXPECT_ERROR(SdUnet::load(store, config), "edited unet", "missing 1 tensor(s)", missing.c_str(),
                     misshaped.c_str(), "[16, 8, 3, 3]", "unexpected 1 tensor(s): extra.weight");

    // Weights of one layout with the other's config: many problems in one message.
    const UnetConfig xl = UnetConfig::fromJson(unetFolder("unet_sdxl_like") / "config.json");
    SWD_EXPECT_ERROR(SdUnet::load(TensorStore::openFolder(unetFolder("unet_sd15_like")), xl), "missing",
                     "unexpected", "add_embedding.linear_1.weight");
    SWD_EXPECT_ERROR(
        SdUnet::load(TensorStore::fromTensors(goldenTensors("unet_sd15_like"), "x"), config, at::kHalf),
        "float32 or bfloat16");
}

void TstUnet::badInputsRefused() {
    const auto xl = loadGolden("unet_sdxl_like");
    const RunInputs x = runInputs("unet_sdxl_like", "8x8");
    SWD_EXPECT_ERROR(xl->forward(x.sample, x.timestep, x.context), "text_embeds");
    SWD_EXPECT_ERROR(xl->forward(x.sample, x.timestep, x.context.narrow(2, 0, 32), x.text, x.ids),
                     "cross_attention_dim = 48");
    SWD_EXPECT_ERROR(xl->forward(x.sample, at::tensor({1, 2, 3}, at::kLong), x.context, x.text, x.ids),
                     "timestep");
    SWD_EXPECT_ERROR(xl->forward(x.sample.narrow(1, 0, 3), x.timestep, x.context, x.text, x.ids), "sample");
    const auto sd = loadGolden("unet_sd15_like");
    const RunInputs s = runInputs("unet_sd15_like", "8x8");
    SWD_EXPECT_ERROR(sd->forward(s.sample, s.timestep, s.context, x.text, x.ids), "no added");
}

QTEST_GUILESS_MAIN(TstUnet)
#include "tst_unet.moc"
