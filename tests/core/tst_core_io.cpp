// core/io: safetensors reading and writing, every malformed-file rejection, sharded checkpoints.
#include "core/test_util.h"
#include "io/checkpoint_index.h"
#include "io/safetensors.h"
#include "io/tensor_store.h"
#include "models/mmdit_config.h"
#include "models/vae.h"
#include "util/error.h"
#include "util/file_read.h"
#include "util/json_reader.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>

using namespace swd;
using swd::test::ScratchDir;

namespace {

std::string le64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

// A safetensors file from a literal header and data section.
std::string rawFile(const std::string& header, const std::string& data) {
    return le64(header.size()) + header + data;
}

std::string floatBytes(std::initializer_list<float> values) {
    std::string s;
    for (float v : values) {
        char b[4];
        std::memcpy(b, &v, 4);
        s.append(b, 4);
    }
    return s;
}

}  // namespace

class TestCoreIo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTripEveryDtype() {
        ScratchDir dir;
        std::vector<std::pair<std::string, at::Tensor>> tensors = {
            {"f64", at::randn({3, 2}, at::kDouble)},
            {"f32", at::randn({4, 5})},
            {"f16", at::randn({7}).to(at::kHalf)},
            {"bf16", at::randn({2, 3, 4}).to(at::kBFloat16)},
            {"i64", at::arange(-5, 5, at::kLong)},
            {"i32", at::arange(-3, 3, at::kInt)},
            {"i16", at::arange(-2, 2, at::kShort)},
            {"i8", at::arange(-4, 4, at::kChar)},
            {"u8", at::arange(250, 256, at::kInt).to(at::kByte)},
            {"bool", at::tensor({1, 0, 1}, at::kInt).to(at::kBool)},
            {"scalar", at::scalar_tensor(3.5)},
            {"empty", at::empty({0, 4})},
        };
        const auto path = dir.file("all.safetensors");
        saveSafetensors(path, tensors, {{"format", "pt"}, {"note", "café ☕"}});
        auto file = SafetensorsFile::open(path);
        QCOMPARE(file->tensors().size(), tensors.size());
        QCOMPARE(file->metadata().at("note"), std::string("café ☕"));
        for (const auto& [name, expected] : tensors) {
            const at::Tensor got = file->tensor(name);
            QCOMPARE(got.scalar_type(), expected.scalar_type());
            QCOMPARE(got.sizes().vec(), expected.sizes().vec());
            QVERIFY2(at::equal(got, expected), name.c_str());
        }
        // Zero-copy: the tensor's storage is the mapped file itself.
        const auto& info = file->info("f32");
        QCOMPARE(file->tensor("f32").data_ptr(),
                 static_cast<void*>(const_cast<std::uint8_t*>(file->data(info))));
        // The file stays mapped while a tensor lives, after the file object is released.
        at::Tensor kept = file->tensor("f64");
        file.reset();
        QVERIFY(at::equal(kept, tensors[0].second));
        // Writing into a loaded tensor never changes the file (private mapping).
        kept.fill_(0);
        QVERIFY(at::equal(SafetensorsFile::open(path)->tensor("f64"), tensors[0].second));
    }

    void float8ConvertsExactly() {
        ScratchDir dir;
        // E4M3FN: 1.0, 2.0, -2.0, smallest subnormal 2^-9, max 448, NaN.
        const std::string e4m3("\x38\x40\xC0\x01\x7E\x7F", 6);
        // E5M2: 1.0, -inf, smallest subnormal 2^-16, max 57344, 0.75.
        const std::string e5m2("\x3C\xFC\x01\x7B\x3A", 5);
        const std::string header = R"({"a":{"dtype":"F8_E4M3","shape":[6],"data_offsets":[0,6]},)"
                                   R"("b":{"dtype":"F8_E5M2","shape":[5],"data_offsets":[6,11]}})";
        swd::test::writeBytes(dir.file("f8.safetensors"), rawFile(header, e4m3 + e5m2));
        auto file = SafetensorsFile::open(dir.file("f8.safetensors"));
        const at::Tensor a = file->tensor("a");
        QCOMPARE(a.scalar_type(), at::kBFloat16);
        const auto av = a.to(at::kFloat);
        QCOMPARE(av[0].item<float>(), 1.0f);
        QCOMPARE(av[1].item<float>(), 2.0f);
        QCOMPARE(av[2].item<float>(), -2.0f);
        QCOMPARE(av[3].item<float>(), std::ldexp(1.0f, -9));
        QCOMPARE(av[4].item<float>(), 448.0f);
        QVERIFY(std::isnan(av[5].item<float>()));
        const auto bv = file->tensor("b").to(at::kFloat);
        QCOMPARE(bv[0].item<float>(), 1.0f);
        QCOMPARE(bv[1].item<float>(), -std::numeric_limits<float>::infinity());
        QCOMPARE(bv[2].item<float>(), std::ldexp(1.0f, -16));
        QCOMPARE(bv[3].item<float>(), 57344.0f);
        QCOMPARE(bv[4].item<float>(), 0.75f);
    }

    void misalignedDataIsCopiedCorrectly() {
        ScratchDir dir;
        // A header of odd length puts the float data at an odd address.
        std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
        while ((8 + header.size()) % 4 != 1) header += ' ';
        swd::test::writeBytes(dir.file("odd.safetensors"), rawFile(header, floatBytes({1.5f, -2.0f, 3.25f})));
        const at::Tensor x = SafetensorsFile::open(dir.file("odd.safetensors"))->tensor("x");
        QVERIFY(at::equal(x, at::tensor({1.5f, -2.0f, 3.25f})));
    }

    void rejectsMalformedFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        const std::string f32x2 = floatBytes({1.0f, 2.0f});
        auto add = [](const char* tag, const std::string& bytes, const char* expected) {
            QTest::newRow(tag) << QByteArray(bytes.data(), static_cast<int>(bytes.size()))
                               << QString(expected);
        };
        add("empty file", "", "truncated file (0 bytes)");
        add("truncated length", std::string("\x10\x00\x00", 3), "truncated file (3 bytes)");
        add("header past end", le64(1000) + "{}", "header length 1000 reaches past the end");
        add("absurd header size", le64(1ull << 40) + "{}", "header length 1099511627776 is absurd");
        add("invalid json", rawFile(R"({"x": {"dtype": "F32",)", f32x2), "not valid JSON");
        add("header not an object", rawFile("[1,2]", ""), "must be a JSON object");
        add("entry not an object", rawFile(R"({"x": 5})", ""), "tensor 'x' is not an object");
        add("unknown dtype", rawFile(R"({"x":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", f32x2),
            "tensor 'x' has unknown dtype 'F12'");
        add("missing dtype", rawFile(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", f32x2),
            "tensor 'x' has no \"dtype\"");
        add("negative shape", rawFile(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2),
            "tensor 'x' has an invalid shape");
        add("offsets out of range",
            rawFile(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", f32x2),
            "tensor 'x' has data_offsets [0, 16] beyond the data section (8 bytes)");
        add("offsets reversed", rawFile(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", f32x2),
            "end before they begin");
        add("size mismatch", rawFile(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
            "shape [3] of F32 needs 12 bytes");
        add("overflowing shape",
            rawFile(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", f32x2),
            "overflows 64 bits");
        add("overlap",
            rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    f32x2),
            "overlap");
        add("duplicate names",
            rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    f32x2),
            "tensor name 'a' appears more than once");
        add("number out of range",
            rawFile(R"({"x":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})", f32x2),
            "not valid JSON");
        add("metadata not strings", rawFile(R"({"__metadata__":{"n":1}})", ""), "metadata value 'n'");
    }

    void rejectsMalformedFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        ScratchDir dir;
        const auto path = dir.file("bad.safetensors");
        swd::test::writeBytes(path, bytes.toStdString());
        const std::string message = swd::test::errorOf([&] { SafetensorsFile::open(path); });
        QVERIFY2(!message.empty(), "the malformed file was accepted");
        QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());  // names the file
        QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
        // And it is a bad-input error (exit code 2 in the CLI), not a crash or an internal error.
        try {
            SafetensorsFile::open(path);
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::BadInput);
        }
    }

    void missingFileIsBadInput() {
        SWD_EXPECT_ERROR(SafetensorsFile::open("/nonexistent/model.safetensors"),
                         "/nonexistent/model.safetensors", "cannot open");
    }

    void shardedCheckpoint() {
        ScratchDir dir;
        const at::Tensor a = at::randn({4, 4}), b = at::randn({2}), c = at::arange(6, at::kLong);
        saveSafetensors(dir.file("model-00001-of-00002.safetensors"),
                        {{"blocks.0.w", a}, {"blocks.10.w", b}});
        saveSafetensors(dir.file("model-00002-of-00002.safetensors"), {{"blocks.2.w", c}});
        swd::test::writeBytes(dir.file("model.safetensors.index.json"),
                              R"({"metadata":{"total_size":0},"weight_map":{)"
                              R"("blocks.0.w":"model-00001-of-00002.safetensors",)"
                              R"("blocks.10.w":"model-00001-of-00002.safetensors",)"
                              R"("blocks.2.w":"model-00002-of-00002.safetensors"}})");
        const TensorStore store = TensorStore::open(dir.path());  // the folder finds its index
        QCOMPARE(store.names().size(), std::size_t(3));
        QVERIFY(at::equal(store.get("blocks.0.w"), a));
        QVERIFY(at::equal(store.get("blocks.2.w"), c));
        QCOMPARE(store.files().size(), std::size_t(2));
        QCOMPARE(store.children("blocks."), (std::vector<std::string>{"0", "2", "10"}));
        const TensorStore view = store.withPrefix("blocks.");
        QVERIFY(view.has("10.w"));
        QVERIFY(!view.has("blocks.10.w"));
        QVERIFY(at::equal(view.get("0.w", {4, 4}), a));
        SWD_EXPECT_ERROR(view.get("0.w", {4, 5}), "model-00001-of-00002.safetensors", "blocks.0.w",
                         "has shape [4, 4], expected [4, 5]");
        SWD_EXPECT_ERROR(view.get("9.w"), "has no tensor 'blocks.9.w'");
    }

    void indexNamingMissingShard() {
        ScratchDir dir;
        saveSafetensors(dir.file("model-00001-of-00002.safetensors"), {{"a", at::zeros({1})}});
        swd::test::writeBytes(dir.file("model.safetensors.index.json"),
                              R"({"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                              R"("b":"model-00002-of-00002.safetensors"}})");
        SWD_EXPECT_ERROR(TensorStore::open(dir.file("model.safetensors.index.json")),
                         "model.safetensors.index.json", "names shard 'model-00002-of-00002.safetensors'",
                         "does not exist");
    }

    void indexAssigningTensorToWrongShard() {
        ScratchDir dir;
        saveSafetensors(dir.file("s1.safetensors"), {{"a", at::zeros({1})}});
        swd::test::writeBytes(dir.file("model.safetensors.index.json"),
                              R"({"weight_map":{"b":"s1.safetensors"}})");
        SWD_EXPECT_ERROR(TensorStore::open(dir.path()), "assigns tensor 'b' to shard 's1.safetensors'");
        swd::test::writeBytes(dir.file("model.safetensors.index.json"), R"({"weights":{}})");
        SWD_EXPECT_ERROR(TensorStore::open(dir.path()), "weight_map");
    }

    void folderChoosesNonVariantFile() {
        ScratchDir dir;
        saveSafetensors(dir.file("diffusion_pytorch_model.fp16.safetensors"),
                        {{"w", at::ones({1}).to(at::kHalf)}});
        QCOMPARE(TensorStore::open(dir.path()).get("w").scalar_type(),
                 at::kHalf);  // only the variant: take it
        saveSafetensors(dir.file("diffusion_pytorch_model.safetensors"), {{"w", at::ones({1})}});
        QCOMPARE(TensorStore::open(dir.path()).get("w").scalar_type(), at::kFloat);
        ScratchDir empty;
        SWD_EXPECT_ERROR(TensorStore::open(empty.path()), "holds no .safetensors file");
    }

    void writerIsAtomicAndRejectsDuplicates() {
        ScratchDir dir;
        const auto path = dir.file("w.safetensors");
        SWD_EXPECT_ERROR(saveSafetensors(path, {{"a", at::zeros({1})}, {"a", at::zeros({1})}}), "duplicate");
        QVERIFY(!std::filesystem::exists(path));
        saveSafetensors(path, {{"a", at::zeros({2, 3}).t()}});  // non-contiguous input
        QCOMPARE(SafetensorsFile::open(path)->tensor("a").sizes().vec(), (std::vector<int64_t>{3, 2}));
        // Data starts 8-byte aligned, as the reference writer does.
        const std::string bytes = swd::test::readBytes(path);
        std::uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        QCOMPARE((8 + n) % 8, std::uint64_t(0));
    }

    // --- hostile inputs (issue 18) -----------------------------------------------------------------

    void jsonReaderRefusesDeepNestingBeforeBuildingIt() {
        // 200,000 levels: the depth that overflowed the stack in dump(); refused while parsing.
        for (const bool objects : {false, true}) {
            const std::string deep = swd::test::deepJson(200000, objects);
            QElapsedTimer timer;
            timer.start();
            SWD_EXPECT_ERROR(parseJson(deep, "deep.json"), "deep.json", "nested deeper than 64 levels");
            QVERIFY2(timer.elapsed() < 5000, "refusing deep JSON must be fast");
        }
        // 64 levels are fine, 65 are not (the outermost array counts 1).
        QCOMPARE(parseJson(swd::test::deepJson(64), "x").dump().size(), std::size_t(64 * 2 + 1));
        SWD_EXPECT_ERROR(parseJson(swd::test::deepJson(65), "x"), "nested deeper than 64");
        JsonLimits small;
        small.maxBytes = 10;
        SWD_EXPECT_ERROR(parseJson("[1,2,3,4,5,6]", "big.json", small), "big.json", "13 bytes",
                         "more than the 10");
    }

    void jsonReaderNamesFieldsAndRefusesTruncation() {
        const nlohmann::json j = parseJson(
            R"({"a": 32.9, "b": 4294967424, "c": 4294967300, "d": -1, "e": 32.0, "f": "x", "g": 1e308,
                "h": [1, 2, "three"], "i": 18446744073709551615})",
            "f.json");
        const JsonField root(j, "f.json");
        SWD_EXPECT_ERROR(root.require("a").asInt(), "f.json: field \"a\"", "32.9 is not a whole number");
        SWD_EXPECT_ERROR(root.require("b").asInt(), "field \"b\"", "4294967424 is out of range");
        SWD_EXPECT_ERROR(root.require("c").asInt(), "field \"c\"", "4294967300 is out of range");
        SWD_EXPECT_ERROR(root.require("d").asUint64(), "field \"d\"", "-1 is out of range");
        QCOMPARE(root.require("e").asInt(), 32);  // a whole number written as a double loses nothing
        QCOMPARE(root.require("c").asInt64(), std::int64_t(4294967300));
        QCOMPARE(root.require("i").asUint64(), std::uint64_t(18446744073709551615ull));
        SWD_EXPECT_ERROR(root.require("i").asInt64(), "field \"i\"", "out of range");
        SWD_EXPECT_ERROR(root.require("f").asDouble(), "field \"f\"", "a number is needed", "\"x\"");
        QCOMPARE(root.require("g").asDouble(), 1e308);
        SWD_EXPECT_ERROR(root.require("h").asIntList(), "field \"h[2]\"", "an integer is needed");
        SWD_EXPECT_ERROR(root.require("zz"), "f.json: missing field \"zz\"");
        SWD_EXPECT_ERROR(parseJson(R"({"a": {"b": [1, 1e400]}})", "n.json"), "n.json", "line 1",
                         "field \"a.b[1]\"", "the number \"1e400\" is out of range");
        SWD_EXPECT_ERROR(parseJson("{\"a\": tru}", "s.json"), "s.json: not valid JSON (line 1, column");
        // Quoted values are cut: a 1 MB string of the wrong type gives a short message.
        const nlohmann::json big = {{"k", std::string(1 << 20, 'x')}};
        const std::string message =
            swd::test::errorOf([&] { JsonField(big, "b.json").require("k").asInt(); });
        QVERIFY2(message.size() < 300, message.substr(0, 300).c_str());
        QVERIFY(message.find("(1048576 bytes)") != std::string::npos);
    }

    void jsonProblemsAreListedAndBounded() {
        JsonProblems problems("p.json");
        for (int i = 0; i < 25; ++i)
            problems.attempt([&] { throwBadInput("p.json: field \"x[{}]\" is wrong", i); });
        QCOMPARE(problems.count(), std::size_t(25));
        const std::string message = swd::test::errorOf([&] { problems.throwIfAny(); });
        QVERIFY(message.find("p.json: 25 problems:") == 0);
        QVERIFY(message.find("field \"x[19]\" is wrong") != std::string::npos);
        QVERIFY(message.find("field \"x[20]\"") == std::string::npos);
        QVERIFY(message.find("... and 5 more") != std::string::npos);
        // Internal errors are not swallowed.
        JsonProblems other("q.json");
        QVERIFY_THROWS_EXCEPTION(Error, other.attempt([] { throwInternal("bug"); }));
    }

    void deepSafetensorsHeaderIsBadInput() {
        ScratchDir dir;
        const auto path = dir.file("deep.safetensors");
        const std::string header =
            R"({"x":{"dtype":"F32","shape":)" + swd::test::deepJson(100000) + R"(,"data_offsets":[0,4]}})";
        swd::test::writeBytes(path, rawFile(header, floatBytes({1.0f})));
        const std::string name = path.string();
        SWD_EXPECT_ERROR(SafetensorsFile::open(path), name.c_str(), "nested deeper than 64");
        // A shape holding a nested list (within the depth limit) is described, not dumped.
        swd::test::writeBytes(path, rawFile(R"({"x":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}})",
                                            floatBytes({1.0f})));
        SWD_EXPECT_ERROR(SafetensorsFile::open(path),
                         "tensor 'x' has an invalid shape: dimension 0 is an array of 1");
    }

    void regularFilesOnly() {
        ScratchDir dir;
        // A folder where a file is meant.
        std::filesystem::create_directories(dir.file("model.safetensors"));
        SWD_EXPECT_ERROR(SafetensorsFile::open(dir.file("model.safetensors")), "model.safetensors",
                         "is a folder");
        SWD_EXPECT_ERROR(readRegularFile(dir.file("model.safetensors"), "schedule file", 1024), "is a folder",
                         "schedule file");
        // A FIFO named like a model: refused at once (it blocked forever in open()).
        const auto fifo = dir.file("fifo.safetensors");
        swd::test::makeFifo(fifo);
        std::string message;
        QElapsedTimer timer;
        timer.start();
        const bool hung = swd::test::blockedOnFifo(
            fifo, 10, [&] { message = swd::test::errorOf([&] { SafetensorsFile::open(fifo); }); });
        QVERIFY2(!hung, "SafetensorsFile::open blocked on a FIFO");
        QVERIFY2(message.find("fifo.safetensors: is a FIFO") != std::string::npos, message.c_str());
        QVERIFY(timer.elapsed() < 5000);
        QVERIFY(!swd::test::blockedOnFifo(fifo, 10, [&] {
            SWD_EXPECT_ERROR(readJsonFile(fifo, "config"), "is a FIFO");
            SWD_EXPECT_ERROR(TensorStore::open(fifo), "is a FIFO");
        }));
        // A size limit.
        swd::test::writeBytes(dir.file("big.json"), std::string(2000, ' '));
        SWD_EXPECT_ERROR(readRegularFile(dir.file("big.json"), "preset", 1000), "big.json", "2000 bytes",
                         "more than the 1000");
        QCOMPARE(readRegularFile(dir.file("big.json"), "preset", 2000).size(), std::size_t(2000));
    }

    void indexWithFifoShardDoesNotHang() {
        ScratchDir dir;
        swd::test::makeFifo(dir.file("model-00001-of-00001.safetensors"));
        swd::test::writeBytes(dir.file("model.safetensors.index.json"),
                              R"({"weight_map":{"a":"model-00001-of-00001.safetensors"}})");
        QVERIFY(!swd::test::blockedOnFifo(dir.file("model-00001-of-00001.safetensors"), 10, [&] {
            SWD_EXPECT_ERROR(TensorStore::open(dir.path()), "model-00001-of-00001.safetensors", "is a FIFO");
        }));
    }

    void indexShardsStayInsideTheFolder() {
        ScratchDir root;
        std::filesystem::create_directories(root.file("model"));
        std::filesystem::create_directories(root.file("blobs"));
        saveSafetensors(root.file("outside.safetensors"), {{"a", at::ones({2})}});
        const auto index = root.file("model") / "model.safetensors.index.json";
        for (const std::string& shard :
             std::vector<std::string>{"../outside.safetensors", root.file("outside.safetensors").string(),
                                      "sub/../../outside.safetensors", ""}) {
            swd::test::writeBytes(index, nlohmann::json{{"weight_map", {{"a", shard}}}}.dump());
            SWD_EXPECT_ERROR(TensorStore::open(index), "model.safetensors.index.json", "weight_map entry 'a'",
                             "not a file inside the index's folder");
        }
        // A shard that is a symlink out of the folder is fine: the Hugging Face cache links
        // snapshots/<rev>/<file> to ../../blobs/<hash>.
        saveSafetensors(root.file("blobs") / "0123abcd", {{"a", at::ones({2})}});
        std::filesystem::create_symlink("../blobs/0123abcd", root.file("model") / "s1.safetensors");
        swd::test::writeBytes(index, R"({"weight_map":{"a":"s1.safetensors"}})");
        QVERIFY(at::equal(TensorStore::open(index).get("a"), at::ones({2})));
        QCOMPARE(parseCheckpointIndex(R"({"weight_map":{"a":"sub/dir/s.safetensors"}})", "i").front().second,
                 std::string("sub/dir/s.safetensors"));
    }

    void numbersOutOfRangeInIndexAndConfigs() {
        ScratchDir dir;
        swd::test::writeBytes(dir.file("model.safetensors.index.json"),
                              R"({"metadata":{"total_size":1e400},"weight_map":{}})");
        SWD_EXPECT_ERROR(TensorStore::open(dir.path()), "model.safetensors.index.json",
                         "field \"metadata.total_size\"", "out of range");
        swd::test::writeBytes(dir.file("index2.json"), R"({"weight_map":{"a":5}})");
        SWD_EXPECT_ERROR(TensorStore::openIndex(dir.file("index2.json")), "index2.json", "entry 'a'",
                         "found 5");

        // Transformer config.json: 1e400, a number as _class_name, truncated integers.
        const auto config = dir.file("config.json");
        swd::test::writeBytes(config, R"({"_class_name":"SD3Transformer2DModel","sample_size":1e400})");
        SWD_EXPECT_ERROR(MMDiTConfig::fromJsonFile(config), "config.json", "sample_size", "out of range");
        swd::test::writeBytes(config, R"({"_class_name":5})");
        SWD_EXPECT_ERROR(MMDiTConfig::fromJsonFile(config), "config.json", "field \"_class_name\"",
                         "a string is needed, found 5");
        swd::test::writeBytes(config, R"({"num_layers":4294967320,"pos_embed_max_size":96})");
        SWD_EXPECT_ERROR(MMDiTConfig::fromJsonFile(config), "config.json", "field \"num_layers\"",
                         "4294967320 is out of range");
        swd::test::writeBytes(config, R"({"dual_attention_layers":[0, 1.5],"pos_embed_max_size":96})");
        SWD_EXPECT_ERROR(MMDiTConfig::fromJsonFile(config), "field \"dual_attention_layers[1]\"",
                         "1.5 is not a whole number");

        // VAE config.json.
        swd::test::writeBytes(config, R"({"_class_name":5})");
        SWD_EXPECT_ERROR(VaeConfig::fromJson(config), "config.json", "field \"_class_name\"");
        swd::test::writeBytes(config, R"({"block_out_channels":[128,256],"latent_channels":16.5,
            "layers_per_block":2})");
        SWD_EXPECT_ERROR(VaeConfig::fromJson(config), "field \"latent_channels\"", "16.5 is not a whole");
        swd::test::writeBytes(config, R"({"block_out_channels":[128,256],"latent_channels":16,
            "layers_per_block":2,"scaling_factor":-1e400})");
        SWD_EXPECT_ERROR(VaeConfig::fromJson(config), "config.json", "scaling_factor", "out of range");
        std::filesystem::create_directories(dir.file("folder.json"));
        SWD_EXPECT_ERROR(VaeConfig::fromJson(dir.file("folder.json")), "folder.json", "is a folder");
    }
};

// Both suites of the io layer in one process (each libtorch process costs ~0.5 s to start).
int runImageIoTests(int argc, char** argv);

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    TestCoreIo io;
    int failed = QTest::qExec(&io, argc, argv);
    failed += runImageIoTests(argc, argv);
    return failed;
}
#include "tst_core_io.moc"
