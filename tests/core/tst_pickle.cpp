// The restricted pickle reader (core/io/pickle_reader.h): the released SiD generator layout reads to the
// module's state dict; hostile and damaged pickles (tests/data/pickle/, written by make_pickles.py there,
// and some built here) are refused with a message naming what was refused, and nothing in them runs.
#include "core/test_util.h"

#include "io/pickle_reader.h"
#include "io/tensor_store.h"
#include "util/error.h"

#include <QtTest>

#include <ATen/ATen.h>

#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;

// What the hostile pickles would create if anything in them ran (make_pickles.py: TOUCHED).
const fs::path kTouched = "/tmp/swd-pickle-test-must-not-exist";

fs::path pickleData(const std::string& name) {
    return swd::test::dataDir() / "pickle" / name;
}

// The message of the BadInput that reading `bytes` throws; fails the test when it does not throw one.
std::string refusal(const std::string& bytes, const swd::PickleLimits& limits = {}) {
    try {
        swd::parsePickleStateDict(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                                  "test.pkl", limits);
    } catch (const swd::Error& e) {
        if (e.kind() != swd::ErrorKind::BadInput) return std::string("not BadInput: ") + e.what();
        return e.what();
    }
    return "(read without an error)";
}

std::string fileRefusal(const fs::path& file) {
    try {
        swd::readPickleStateDict(file);
    } catch (const swd::Error& e) {
        return e.kind() == swd::ErrorKind::BadInput ? e.what() : std::string("not BadInput: ") + e.what();
    }
    return "(read without an error)";
}

// Protocol 4 header, then `body`, then STOP.
std::string p4(const std::string& body) {
    return std::string("\x80\x04", 2) + body + ".";
}
std::string shortStr(const std::string& s) {
    return std::string("\x8c") + char(s.size()) + s;
}
std::string stackGlobal(const std::string& module, const std::string& name) {
    return shortStr(module) + shortStr(name) + "\x93";
}

#define QVERIFY_CONTAINS(haystack, needle)                            \
    QVERIFY2(std::string(haystack).find(needle) != std::string::npos, \
             qPrintable(QString::fromStdString(std::string("'") + (needle) + "' not in: " + (haystack))))

}  // namespace

class TstPickle : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void goldenGeneratorsRead() {
        const fs::path dir = swd::test::goldenDir("sid_pickle");
        struct Want {
            const char* file;
            const char* key;
            std::size_t tensors;
            const char* dtype;
        };
        for (const Want& w : {Want{"generator_sd15.pkl", "ema", 684, "float32"},
                              Want{"generator_sd15_G.pkl", "G", 684, "float32"},
                              Want{"generator_sdxl.pkl", "ema", 618, "float16"}}) {
            const swd::PickleStateDict sd = swd::readPickleStateDict(dir / w.file);
            QCOMPARE(sd.key, std::string(w.key));
            QCOMPARE(sd.tensors.size(), w.tensors);
            QCOMPARE(swd::stateDictDtype(sd), std::string(w.dtype));
            QCOMPARE(sd.moduleClass,
                     std::string("diffusers.models.unets.unet_2d_condition.UNet2DConditionModel"));
            QCOMPARE(sd.tensors.front().name, std::string("conv_in.weight"));
            for (const auto& g : sd.globals)
                QVERIFY(g.rfind("torch", 0) == 0 || g.rfind("diffusers.", 0) == 0 ||
                        g == "collections.OrderedDict");
        }
        const swd::PickleCheckpoint ckpt = swd::readPickleCheckpoint(dir / "generator_sdxl.pkl");
        QCOMPARE(ckpt.tensors.front().second.scalar_type(), at::kHalf);
        QCOMPARE(ckpt.tensors.front().second.sizes().vec(), (std::vector<int64_t>{8, 4, 3, 3}));
    }

    // make_pickles.py's tiny module: a transposed view, a None parameter, a non-persistent buffer, a None
    // child; names and values as state_dict() gives them.
    void tinyModuleStateDict() {
        const swd::PickleCheckpoint ckpt = swd::readPickleCheckpoint(pickleData("tiny_module.pkl"));
        QCOMPARE(ckpt.key, std::string("ema"));
        QCOMPARE(ckpt.moduleClass, std::string("diffusers.models.tiny.TinyNet"));
        QCOMPARE(ckpt.tensors.size(), std::size_t(3));
        QCOMPARE(ckpt.tensors[0].first, std::string("bias"));
        QCOMPARE(ckpt.tensors[1].first, std::string("proj.weight"));
        QCOMPARE(ckpt.tensors[2].first, std::string("proj.running"));
        const at::Tensor w = ckpt.tensors[1].second;
        QVERIFY(w.is_contiguous());
        QVERIFY(at::equal(w, at::tensor({0.5f, 0.25f, -1.0f, 3.0f, 2.0f, -0.125f}).view({3, 2})));
        QVERIFY(at::equal(ckpt.tensors[2].second, at::tensor({8.0f, 9.0f})));

        const swd::PickleCheckpoint half = swd::readPickleCheckpoint(pickleData("tiny_module_G_fp16.pkl"));
        QCOMPARE(half.key, std::string("G"));
        QCOMPARE(half.dtype, std::string("float16"));
        QVERIFY(at::equal(half.tensors[1].second.to(at::kFloat), w));

        const swd::TensorStore store = swd::TensorStore::open(pickleData("tiny_module.pkl"));
        QCOMPARE(store.names(), (std::vector<std::string>{"bias", "proj.running", "proj.weight"}));
        QVERIFY(at::equal(store.get("bias"), at::tensor({1.0f, 2.0f})));
    }

    void hostileFilesAreRefusedAndNothingRuns() {
        std::error_code ec;
        fs::remove(kTouched, ec);
        struct Case {
            const char* file;
            std::vector<const char*> message;
        };
        const std::vector<Case> cases = {
            {"os_system.pkl", {"refused global 'os.system' at byte 2", "nothing from the file was run"}},
            {"posix_system.pkl", {"refused global 'posix.system' at byte 28"}},
            {"eval_stack_global.pkl", {"refused global 'builtins.eval'"}},
            {"subprocess_in_dict.pkl", {"refused global 'subprocess.check_call'"}},
            {"unknown_class.pkl", {"refused global 'transformers.models.clip.modeling_clip.CLIPTextModel'"}},
            {"view_outside_storage.pkl",
             {"reaches outside its storage", "offset 2, sizes (2, 2), strides (2, 1)"}},
            {"truncated.pkl", {"truncated", "needs 213 bytes, but only 43 remain"}},
            {"memo_out_of_range.pkl", {"memo entry 5, which was never stored"}},
            {"deep_nesting.pkl", {"more than 65536 nested MARKs"}},
            {"nested_blob_bomb.pkl",
             {"a storage blob inside a storage blob", "(in the storage blob at byte"}},
            {"oversized_length.pkl", {"BINBYTES8 at byte 2 needs 4611686018427387904 bytes"}},
        };
        for (const Case& c : cases) {
            const std::string message = fileRefusal(pickleData(c.file));
            QVERIFY_CONTAINS(message, pickleData(c.file).string());
            for (const char* part : c.message) QVERIFY_CONTAINS(message, part);
        }
        QVERIFY2(!fs::exists(kTouched), "a hostile pickle ran a command");
    }

    // Globals that look harmless or module-like but are not on the list.
    void globalsOutsideTheListAreRefused() {
        for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
                 {"builtins", "getattr"},
                 {"builtins", "__import__"},
                 {"__builtin__", "eval"},
                 {"torch", "load"},
                 {"torch._utils", "_rebuild_device_tensor_from_numpy"},
                 {"torch.nn.modules.conv", "conv2d"},  // a function, not a class
                 {"torch.nn.functional", "Conv2d"},
                 {"diffusersx.models", "UNet"},
                 {"numpy.core.multiarray", "_reconstruct"},
                 {"torch.nn.modules.os", "system\nx"}}) {
            QVERIFY(!swd::pickleGlobalAllowed(module, name));
            const std::string text = p4("c" + module + "\n" + name + "\n");
            QVERIFY_CONTAINS(refusal(text),
                             "refused global '" + module + "." + name.substr(0, name.find('\n')));
        }
        QVERIFY(swd::pickleGlobalAllowed("diffusers.models.attention_processor", "Attention"));
        QVERIFY(swd::pickleGlobalAllowed("torch.nn.modules.conv", "Conv2d"));
        QVERIFY(swd::pickleGlobalAllowed("torch", "HalfStorage"));
        QVERIFY_CONTAINS(refusal(p4(stackGlobal("builtins", "exec"))),
                         "refused global 'builtins.exec' at byte 18");
    }

    void opcodesOutsideTheSetAreRefused() {
        QVERIFY_CONTAINS(refusal(p4("(ios\nsystem\n")), "refused opcode INST (0x69)");
        QVERIFY_CONTAINS(refusal(p4("\x82\x01")), "refused opcode EXT1");
        QVERIFY_CONTAINS(refusal(p4("P1\n")), "refused opcode PERSID");
        QVERIFY_CONTAINS(refusal(p4("Q")), "at byte 2");  // BINPERSID outside a storage blob (empty stack)
        QVERIFY_CONTAINS(refusal(p4("N\x97")), "refused opcode NEXT_BUFFER");
        QVERIFY_CONTAINS(refusal(std::string("\x80\x00N.", 4)), "pickle protocol 0 is not supported");
        QVERIFY_CONTAINS(refusal(p4("\xff")), "refused opcode unknown opcode (0xff)");
    }

    // REDUCE/NEWOBJ/BUILD/APPEND never call anything: what would need a call is refused.
    void nothingIsCalled() {
        const std::string record = stackGlobal("torch.nn.modules.linear", "Linear") + ")\x81";
        QVERIFY_CONTAINS(refusal(p4(record + "NaN")), "APPEND on a object");
        QVERIFY_CONTAINS(refusal(p4(stackGlobal("torch", "float16") + ")R")),
                         "REDUCE would call 'torch.float16'");
        QVERIFY_CONTAINS(refusal(p4(")}b")), "BUILD on a tuple");
        QVERIFY_CONTAINS(refusal(p4(")(NNu")), "SETITEMS on a tuple");
        QVERIFY_CONTAINS(refusal(p4("N)R")), "REDUCE calls a None");
        // A module record without a module's state.
        QVERIFY_CONTAINS(refusal(p4("}" + shortStr("ema") + record + "s")), "has no _parameters");
        QVERIFY_CONTAINS(refusal(p4("}" + shortStr("x") + "Ns")), "no 'ema' or 'G' entry (its keys: 'x')");
    }

    void boundsHold() {
        swd::PickleLimits small;
        small.maxValues = 100;
        std::string ints;
        for (int i = 0; i < 200; ++i) ints += "K\x01";
        QVERIFY_CONTAINS(refusal(p4("(" + ints + "l"), small), "more than 100 objects");
        small = {};
        small.maxStack = 10;
        QVERIFY_CONTAINS(refusal(p4(std::string(20, 'N')), small), "stack grows past 10 values");
        QVERIFY_CONTAINS(refusal(p4("N\x94\x94r\xff\xff\xff\x7f")),
                         "memo index 2147483647 is beyond the limit");
        QVERIFY_CONTAINS(refusal(p4("NN")), "STOP with 2 values");
        QVERIFY_CONTAINS(refusal(p4("N") + "N."), "bytes after the pickle's STOP");
        QVERIFY_CONTAINS(refusal(std::string("\x80\x04N", 3)), "without its STOP opcode");
        QVERIFY_CONTAINS(refusal(p4(std::string("\x95\xff\xff\xff\xff\x00\x00\x00\x00N", 10))),
                         "FRAME at byte 2 needs 4294967295");
    }

    // Every prefix of a valid file is refused cleanly (no crash, no over-read: the tests run under ASan
    // in the sanitizer build).
    void everyTruncationIsBadInput() {
        const std::string whole = swd::test::readBytes(pickleData("tiny_module.pkl"));
        for (std::size_t n = 0; n < whole.size(); ++n) {
            const std::string message = refusal(whole.substr(0, n));
            QVERIFY2(message.rfind("test.pkl: ", 0) == 0, message.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TstPickle)
#include "tst_pickle.moc"
