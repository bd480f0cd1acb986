// core/sampling: schedules, their validation messages, presets, the flow-matching sigma grid.
#include "core/test_util.h"
#include "family/family.h"
#include "golden/golden_case.h"
#include "pipeline/generation_request.h"
#include "sampling/ddpm.h"
#include "sampling/flow_match.h"
#include "sampling/preset_library.h"
#include "sampling/samplers.h"
#include "sampling/schedule.h"
#include "sampling/seeded_noise.h"

#include <QtTest>

#include <limits>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace swd;

namespace {

Schedule swd6() {
    Schedule s;
    s.name = "test";
    s.family = ModelFamily::SD35Medium;
    s.scales = {32, 48, 64, 80, 96, 128};
    s.sigmas = {1.0, 0.9454, 0.8959, 0.7904, 0.7371, 0.6022, 0.0};
    return s;
}

bool hasIssue(const std::vector<ScheduleIssue>& issues, const std::string& field, int index,
              const std::string& fragment) {
    for (const auto& i : issues)
        if (i.field == field && i.index == index && i.message.find(fragment) != std::string::npos)
            return true;
    return false;
}

// A schedule with the golden SwD case's scales and sigmas (the sigmas the reference stored).
Schedule goldenSwdSchedule(const GoldenCase& c, const TensorStore& out) {
    Schedule s;
    s.name = c.name();
    s.sampler = SamplerKind::ScaleWise;
    s.scales = c.json().at("scales").get<std::vector<int>>();
    const at::Tensor sig = out.get("sigmas").to(at::kDouble);
    for (int64_t i = 0; i < sig.numel(); ++i) s.sigmas.push_back(sig[i].item<double>());
    s.guidance = c.json().at("cfg_scale").get<double>();
    return s;
}

std::string describe(const std::vector<ScheduleIssue>& issues) {
    std::string s;
    for (const auto& i : issues) s += i.toString() + "; ";
    return s;
}

}  // namespace

class TestCoreSampling : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void flowMatchSigmasMatchHandComputedValues() {
        // README of the golden data: 4 steps, shift 3 -> timesteps 1000, 857.69, 602.15, 8.93.
        const auto s = flowMatchSigmas(4, 3.0);
        QCOMPARE(s.size(), std::size_t(5));
        QVERIFY(std::abs(s[0] * 1000 - 1000.0) < 1e-9);
        QVERIFY(std::abs(s[1] * 1000 - 857.6923) < 1e-3);
        QVERIFY(std::abs(s[2] * 1000 - 602.1505) < 1e-3);
        QVERIFY(std::abs(s[3] * 1000 - 8.9286) < 1e-3);
        QCOMPARE(s[4], 0.0);
        // One step: just sigma 1.
        QCOMPARE(flowMatchSigmas(1, 3.0), (std::vector<double>{1.0, 0.0}));
        // shift 1 is the identity: a linear grid from 1 to 0.001.
        const auto linear = flowMatchSigmas(10, 1.0);
        QVERIFY(std::abs(linear[9] - 0.001) < 1e-12);
    }

    void swdSigmasAreThe28StepGrid() {
        // The SwD README values are grid points (4 decimals) of the 28-step shift-3 grid.
        const auto grid = flowMatchGridSigmas({0, 4, 7, 12, 14, 18, 28});
        const std::vector<double> readme = {1.0, 0.9454, 0.8959, 0.7904, 0.7371, 0.6022, 0.0};
        for (std::size_t i = 0; i < grid.size(); ++i) QVERIFY(std::abs(grid[i] - readme[i]) < 5e-5);
    }

    void schedulerGoldenCase() {
        const auto report = runGoldenCase(swd::test::goldenDir("scheduler"));
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        QVERIFY(report.runs.size() >= 12);
    }

    void eulerStepIsFloat32() {
        const at::Tensor x = at::ones({2}), v = at::full({2}, 2.0);
        const at::Tensor y = flowEulerStep(x, v, 1.0, 0.75);
        QCOMPARE(y.scalar_type(), at::kFloat);
        QCOMPARE(y[0].item<float>(), 0.5f);  // 1 + (0.75 − 1)·2
    }

    // The scale-wise sampler against SwD's own FlowMatchingSolver.sampling: the golden model outputs and
    // noises are injected, so every other number (x0, upscale, re-noising, CFG mix) is ours.
    void scaleWiseSamplerMatchesSwd_data() {
        QTest::addColumn<QString>("caseName");
        for (const char* c : {"swd_3scale", "swd_6scale", "swd_4scale_repeat_cfg4.5"})
            QTest::newRow(c) << QString(c);
    }
    void scaleWiseSamplerMatchesSwd() {
        QFETCH(QString, caseName);
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir(caseName.toStdString()));
        const TensorStore out = c.file("outputs.safetensors");
        const Tolerance tol = c.tolerance();
        const Schedule schedule = goldenSwdSchedule(c, out);
        GoldenReport report;

        SamplerInputs in;
        in.schedule = &schedule;
        in.initialNoise = out.get("initial_noise");
        in.positive = {out.get("prompt_embeds"), out.get("pooled_prompt_embeds")};
        if (schedule.guidance > 1.0) {
            in.guidance.scale = schedule.guidance;
            in.guidance.negative = {out.get("uncond_prompt_embeds"), out.get("uncond_pooled_prompt_embeds")};
            in.guidance.batched = false;  // SwD makes two calls
        }
        int step = 0;
        in.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& cond) {
            const std::string p = "step" + std::to_string(step) + ".";
            report.check(p + "latent_in", x, out.get(p + "latent_in"), tol);
            report.check(p + "timestep", t, out.get(p + "timestep"), {1e-3, 0});
            const bool uncond = in.guidance.negative.context.defined() &&
                                cond.context.data_ptr() == in.guidance.negative.context.data_ptr();
            return out.get(p + (uncond ? "model_out_uncond" : "model_out"));
        };
        int noiseIndex = 0;
        in.noise = [&](at::IntArrayRef shape) {
            const at::Tensor n = out.get("step" + std::to_string(noiseIndex++) + ".noise");
            if (n.sizes() != shape) qFatal("noise shape mismatch");
            return n;
        };
        in.observer = [&](const StepRecord& r) {
            const std::string p = "step" + std::to_string(r.index) + ".";
            report.check(p + "x0", r.x0, out.get(p + "x0"), tol);
            if (out.has(p + "guided")) report.check(p + "guided", r.guided, out.get(p + "guided"), tol);
            if (out.has(p + "x0_upscaled"))
                report.check(p + "x0_upscaled", r.x0Upscaled, out.get(p + "x0_upscaled"), tol);
            if (out.has(p + "renoised"))
                report.check(p + "renoised", r.latentOut, out.get(p + "renoised"), tol);
            QCOMPARE(r.x0Upscaled.defined(), out.has(p + "x0_upscaled"));  // no resize when the scale repeats
            ++step;
        };
        const SamplingResult result = sampleScaleWise(in);
        QVERIFY(!result.cancelled);
        QCOMPARE(result.completedSteps, schedule.stepCount());
        report.check("final_latent", result.latent, out.get("final_latent"), tol);
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        QVERIFY(report.runs.size() >= static_cast<std::size_t>(3 * schedule.stepCount() + 1));
    }

    // ᾱ and SiD's integer grid against the reference's stored values and the spec's tables (§1.3).
    void ddpmScheduleAndSidGrid() {
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir("sid_sdxl_t999_k4"));
        const at::Tensor abar = c.file("outputs.safetensors").get("alphas_cumprod");
        QVERIFY(at::equal(DdpmSchedule::stableDiffusion().alphasCumprod(), abar));  // bit for bit
        QCOMPARE(sidTimesteps(625, 4, 4), (std::vector<int>{625, 468, 312, 156}));
        QCOMPARE(sidTimesteps(999, 4, 4), (std::vector<int>{999, 749, 499, 249}));
        QCOMPARE(sidTimesteps(999, 3, 3), (std::vector<int>{999, 666, 333}));
        QCOMPARE(sidTimesteps(625, 2, 2), (std::vector<int>{625, 312}));
        QCOMPARE(sidTimesteps(999, 4, 2), (std::vector<int>{999, 749}));  // early exit on the K = 4 grid
        SWD_EXPECT_ERROR(sidTimesteps(625, 2, 3), "run steps <= grid steps");
        QCOMPARE(eulerDiscreteTimesteps(4), (std::vector<int>{751, 501, 251, 1}));
        QCOMPARE(eulerDiscreteTimesteps(40).front(), 976);  // 39·25 + 1
        QCOMPARE(eulerDiscreteTimesteps(50).back(), 1);
        // √(1 − ᾱ) at 625 from the spec's table (double precision there; float32 here).
        QVERIFY(std::abs(DdpmSchedule::stableDiffusion().sqrtOneMinusAlpha(625) - 0.92856) < 1e-5);
    }

    // SiD's loop against SiD-LSG's sid_sd_sampler: model outputs and fresh noises injected, so x_t, x0 and
    // the timesteps are ours.
    void sidSamplerMatchesSidLsg_data() {
        QTest::addColumn<QString>("caseName");
        for (const char* c : {"sid_sd15_t625_k1", "sid_sd15_t625_k2_b2", "sid_sd15_t625_k4_64x96",
                              "sid_sdxl_t625_k1", "sid_sdxl_t625_k4", "sid_sdxl_t999_k1", "sid_sdxl_t999_k4"})
            QTest::newRow(c) << QString(c);
    }
    void sidSamplerMatchesSidLsg() {
        QFETCH(QString, caseName);
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir(caseName.toStdString()));
        const TensorStore in = c.file("inputs.safetensors"), out = c.file("outputs.safetensors");
        const Tolerance tol = c.tolerance();
        const int k = c.json().at("K").get<int>();
        const at::Tensor z = in.get("latents");
        const Schedule schedule = makeSidSchedule(c.json().at("t_init").get<int>(), k, k, int(z.size(2)));
        GoldenReport report;
        SamplerInputs si;
        si.schedule = &schedule;
        si.initialNoise = z;
        si.positive = Conditioning(out.get("prompt_embeds"));
        int step = 0;
        si.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning&) {
            const std::string p = "step" + std::to_string(step) + ".";
            report.check(p + "x_t", x, out.get(p + "x_t"), tol);
            report.checkCondition(p + "timestep",
                                  t.scalar_type() == at::kLong && at::equal(t, out.get(p + "timestep")),
                                  "integer timesteps differ");
            return out.get(p + "model_out");
        };
        int noiseStep = 1;
        si.noise = [&](at::IntArrayRef) { return in.get("noise.step" + std::to_string(noiseStep++)); };
        si.observer = [&](const StepRecord& r) {
            const std::string p = "step" + std::to_string(r.index) + ".";
            report.check(p + "noise", r.noise, out.get(p + "noise"), tol);
            report.check(p + "x0", r.x0, out.get(p + "x0"), tol);
            ++step;
        };
        const SamplingResult result = runSampler(si);
        QCOMPARE(result.completedSteps, k);
        report.check("final_latent", result.latent, out.get("final_latent"), tol);
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        QCOMPARE(report.runs.size(), static_cast<std::size_t>(4 * k + 1));
    }

    // Early exit and the other noise modes follow from the loop: after k steps of a K grid the result is the
    // reference's step k−1 x0; "fixed" re-noises with z, "ddim" with the previous model output.
    void sidEarlyExitAndNoiseModes() {
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir("sid_sdxl_t999_k4"));
        const TensorStore in = c.file("inputs.safetensors"), out = c.file("outputs.safetensors");
        const at::Tensor z = in.get("latents");
        Schedule early = makeSidSchedule(999, 4, 2, 8);
        QVERIFY(validateSchedule(early).empty());
        SamplerInputs si;
        si.schedule = &early;
        si.initialNoise = z;
        int step = 0;
        si.model = [&](const at::Tensor&, const at::Tensor&, const Conditioning&) {
            return out.get("step" + std::to_string(step++) + ".model_out");
        };
        si.noise = [&](at::IntArrayRef) { return in.get("noise.step1"); };
        QVERIFY(at::allclose(runSampler(si).latent, out.get("step1.x0"), 1e-6, 1e-6));

        for (SidNoise mode : {SidNoise::Fixed, SidNoise::Ddim}) {
            Schedule s = makeSidSchedule(999, 4, 2, 8, mode);
            si.schedule = &s;
            si.noise = nullptr;  // neither mode draws
            step = 0;
            std::vector<at::Tensor> inputs;
            si.model = [&](const at::Tensor& x, const at::Tensor&, const Conditioning&) {
                inputs.push_back(x);
                return out.get("step" + std::to_string(step++) + ".model_out");
            };
            runSampler(si);
            const DdpmSchedule& d = DdpmSchedule::stableDiffusion();
            const at::Tensor eps = mode == SidNoise::Fixed ? z : out.get("step0.model_out");
            const at::Tensor expected =
                out.get("step0.x0") * d.sqrtAlphaCumprod(749) + eps * d.sqrtOneMinusAlpha(749);
            QVERIFY2(at::allclose(inputs.at(1), expected, 1e-5, 1e-5), kindId(mode));
        }
    }

    // SiD schedules: the grid's limits and the JSON form (generated timesteps are not written back).
    void sidScheduleValidationAndJson() {
        Schedule s = makeSidSchedule(625, 4, 4, 64);
        QVERIFY2(validateSchedule(s).empty(), describe(validateSchedule(s)).c_str());
        QCOMPARE(s.sigmas.size(), std::size_t(5));
        QCOMPARE(s.sigmas.back(), 0.0);
        s.sidGridSteps = 2;
        QVERIFY(hasIssue(validateSchedule(s), "steps", -1, "past the trained grid"));
        s = makeSidSchedule(625, 4, 4, 64);
        s.sidTInit = 1000;
        QVERIFY(hasIssue(validateSchedule(s), "t_init", -1, "1..999"));
        s = makeSidSchedule(625, 4, 4, 64);
        s.timesteps[2] = 500;
        QVERIFY(hasIssue(validateSchedule(s), "timesteps", 2, "strictly decrease"));
        s = makeSidSchedule(625, 4, 4, 64);
        s.guidance = 4.5;
        QVERIFY(hasIssue(validateSchedule(s), "guidance", -1, "distilled"));

        s = makeSidSchedule(999, 4, 3, 128, SidNoise::Ddim);
        s.name = "x";
        nlohmann::json j = scheduleToJson(s);
        QVERIFY(!j.contains("timesteps"));
        QCOMPARE(j.at("noise").get<std::string>(), std::string("ddim"));
        Schedule back = scheduleFromJson(j, "test");
        QCOMPARE(back.timesteps, s.timesteps);
        QCOMPARE(back.sidGridSteps, 4);
        QCOMPARE(back.sidNoise, SidNoise::Ddim);
        QCOMPARE(back.sigmas, s.sigmas);
        s.timesteps = {900, 500, 100};  // edited by hand: written out
        j = scheduleToJson(s);
        QCOMPARE(j.at("timesteps").get<std::vector<int>>(), s.timesteps);
        QCOMPARE(scheduleFromJson(j, "test").timesteps, s.timesteps);
        j["noise"] = "loud";
        SWD_EXPECT_ERROR(scheduleFromJson(j, "test"), "unknown noise", "fresh, fixed or ddim");

        const Schedule euler = makeEulerDiscreteSchedule(40, 128, 5.0);
        QVERIFY2(validateSchedule(euler).empty(), describe(validateSchedule(euler)).c_str());
        const Schedule eulerBack = scheduleFromJson(scheduleToJson(euler), "test");
        QCOMPARE(eulerBack.timesteps, euler.timesteps);
        QCOMPARE(eulerBack.guidance, 5.0);
    }

    // diffusers' SDXL pipeline's Euler discrete loop (CFG batch [negative, positive]), unet outputs injected.
    void eulerDiscreteSamplerMatchesSdxlPipeline_data() {
        QTest::addColumn<QString>("caseName");
        for (const char* c : {"sdxl_pipeline_cfg5", "sdxl_pipeline_cfg5_no_negative"})
            QTest::newRow(c) << QString(c);
    }
    void eulerDiscreteSamplerMatchesSdxlPipeline() {
        QFETCH(QString, caseName);
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir(caseName.toStdString()));
        const TensorStore in = c.file("inputs.safetensors"), out = c.file("outputs.safetensors");
        const Tolerance tol = c.tolerance();
        const at::Tensor latents = in.get("latents");
        const Schedule schedule = makeEulerDiscreteSchedule(4, int(latents.size(2)), 5.0);
        GoldenReport report;
        SamplerInputs si;
        si.schedule = &schedule;
        si.initialNoise = latents;
        si.positive = {out.get("prompt_embeds"), out.get("pooled_prompt_embeds"), at::ones({1, 6})};
        si.guidance.scale = 5.0;
        si.guidance.negative = {out.get("negative_prompt_embeds"), out.get("negative_pooled_prompt_embeds"),
                                at::ones({1, 6})};
        int step = 0;
        si.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& cond) {
            const std::string p = "step" + std::to_string(step) + ".unet_in.";
            report.check(p + "sample", x, out.get(p + "sample"), tol);
            report.check(p + "timestep", t[0], out.get(p + "timestep"), {0, 0});
            report.check(p + "encoder_hidden_states", cond.context, out.get(p + "encoder_hidden_states"),
                         {0, 0});
            report.check(p + "text_embeds", cond.pooled, out.get(p + "text_embeds"), {0, 0});
            return out.get("step" + std::to_string(step) + ".unet_out");
        };
        si.observer = [&](const StepRecord& r) {
            const std::string p = "step" + std::to_string(r.index) + ".";
            report.check(p + "latents_before", r.latentIn, out.get(p + "latents_before"), tol);
            report.check(p + "guided_noise_pred", r.guided, out.get(p + "guided_noise_pred"), tol);
            report.check(p + "pred_original_sample", r.x0, out.get(p + "pred_original_sample"), tol);
            report.check(p + "latents_after", r.latentOut, out.get(p + "latents_after"), tol);
            ++step;
        };
        const SamplingResult result = runSampler(si);
        QCOMPARE(result.completedSteps, 4);
        report.check("final_latents", result.latent, out.get("final_latents"), tol);
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
        QCOMPARE(report.runs.size(), std::size_t(4 * 8 + 1));
    }

    // The flow-Euler sampler against diffusers' StableDiffusion3Pipeline (CFG as one batch [neg, pos]).
    void flowEulerSamplerMatchesPipeline_data() {
        QTest::addColumn<QString>("caseName");
        for (const char* c : {"pipeline_cfg1", "pipeline_cfg4.5"}) QTest::newRow(c) << QString(c);
    }
    void flowEulerSamplerMatchesPipeline() {
        QFETCH(QString, caseName);
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir(caseName.toStdString()));
        const TensorStore out = c.file("outputs.safetensors");
        const TensorStore inputs = c.file("inputs.safetensors");
        const Tolerance tol = c.tolerance();
        const auto& call = c.json().at("call");
        const int steps = call.at("num_inference_steps").get<int>();
        Schedule schedule =
            makeFullResolutionSchedule(steps, 3.0, 8, call.at("guidance_scale").get<double>(), 256);
        GoldenReport report;
        report.check("sigmas", at::tensor(schedule.sigmas, at::kDouble), out.get("sigmas"), tol);

        SamplerInputs in;
        in.schedule = &schedule;
        in.initialNoise = inputs.get("latents");
        in.positive = {out.get("prompt_embeds"), out.get("pooled_prompt_embeds")};
        if (schedule.guidance > 1.0) {
            in.guidance.scale = schedule.guidance;
            in.guidance.negative = {out.get("negative_prompt_embeds"),
                                    out.get("negative_pooled_prompt_embeds")};
        }
        int step = 0;
        in.model = [&](const at::Tensor& x, const at::Tensor& t, const Conditioning& cond) {
            const std::string p = "step" + std::to_string(step) + ".";
            if (out.has(p + "transformer_in.hidden_states")) {
                report.check(p + "transformer_in.hidden_states", x,
                             out.get(p + "transformer_in.hidden_states"), tol);
                report.check(p + "transformer_in.timestep", t, out.get(p + "transformer_in.timestep"),
                             {1e-3, 0});
            }
            if (schedule.guidance > 1.0)
                report.checkCondition(p + "cfg_batch_of_2", cond.context.size(0) == 2,
                                      "CFG must batch [neg, pos]");
            return out.get(p + "transformer_out");
        };
        in.observer = [&](const StepRecord& r) {
            const std::string p = "step" + std::to_string(r.index) + ".";
            report.check(p + "latents_before", r.latentIn, out.get(p + "latents_before"), tol);
            report.check(p + "guided_velocity", r.guided, out.get(p + "guided_velocity"), tol);
            report.check(p + "latents_after", r.latentOut, out.get(p + "latents_after"), tol);
            ++step;
        };
        const SamplingResult result = sampleFlowEuler(in);
        QCOMPARE(result.completedSteps, steps);
        report.check("final_latents", result.latent, out.get("final_latents"), tol);
        QVERIFY2(report.passed(), formatGoldenReport(report).c_str());
    }

    // libtorch's CPU generator with the same seed and draw order reproduces the reference's noises exactly.
    void seededNoiseReproducesTheReference() {
        const GoldenCase c = GoldenCase::load(swd::test::goldenDir("swd_6scale"));
        const TensorStore out = c.file("outputs.safetensors");
        const auto scales = c.json().at("scales").get<std::vector<int>>();
        SeededNoise noise(c.json().at("seed").get<std::uint64_t>());
        noise.draw({1, 16, scales.back(), scales.back()});  // the reference's unused first draw
        QVERIFY(at::equal(noise.draw({1, 16, scales[0], scales[0]}), out.get("initial_noise")));
        for (std::size_t i = 0; i + 1 < scales.size(); ++i) {
            const at::Tensor expected = out.get("step" + std::to_string(i) + ".noise");
            QVERIFY(at::equal(noise.draw(expected.sizes()), expected));
        }
        const GoldenCase p = GoldenCase::load(swd::test::goldenDir("pipeline_cfg1"));
        SeededNoise pipelineNoise(p.json().at("seed_for_latents").get<std::uint64_t>());
        QVERIFY(at::equal(pipelineNoise.draw({1, 16, 8, 8}), p.file("inputs.safetensors").get("latents")));
    }

    void batchNoiseUsesOneSeedPerImage() {
        SeededNoise batch(100, 3);
        QCOMPARE(batch.imageSeeds(), (std::vector<std::uint64_t>{100, 101, 102}));
        const at::Tensor all = batch.draw({3, 16, 4, 4});
        SeededNoise third(102);
        QVERIFY(at::equal(all[2].unsqueeze(0), third.draw({1, 16, 4, 4})));
    }

    void cancelReturnsTheFinishedSteps() {
        Schedule s = swd6();
        s.scales = {4, 6, 8};
        s.sigmas = {1.0, 0.9, 0.5, 0.0};
        SamplerInputs in;
        in.schedule = &s;
        in.initialNoise = at::zeros({1, 16, 4, 4});
        in.positive = {at::zeros({1, 4, 8}), at::zeros({1, 8})};
        in.model = [](const at::Tensor& x, const at::Tensor&, const Conditioning&) {
            return at::ones_like(x);
        };
        in.noise = [](at::IntArrayRef shape) { return at::zeros(shape); };
        int finished = 0;
        in.observer = [&](const StepRecord&) { ++finished; };
        in.cancelled = [&] { return finished == 2; };
        const SamplingResult r = sampleScaleWise(in);
        QVERIFY(r.cancelled);
        QCOMPARE(r.completedSteps, 2);
        QCOMPARE(r.latent.sizes().vec(), (std::vector<int64_t>{1, 16, 6, 6}));  // step 1's x0, at its scale
        // x0 of step 1: x = 0.9·0 + 0.1·upscale(−1) = −0.1, then x0 = −0.1 − 0.9·1 = −1.0
        QVERIFY(at::allclose(r.latent, at::full({1, 16, 6, 6}, -1.0f)));

        // Cancelled between the two CFG passes: the step is not counted.
        s.guidance = 3.0;
        in.guidance.scale = 3.0;
        in.guidance.batched = false;
        in.guidance.negative = in.positive;
        int calls = 0;
        in.model = [&](const at::Tensor& x, const at::Tensor&, const Conditioning&) {
            ++calls;
            return at::ones_like(x);
        };
        finished = 0;
        in.cancelled = [&] { return calls == 1; };
        const SamplingResult r2 = sampleScaleWise(in);
        QVERIFY(r2.cancelled);
        QCOMPARE(r2.completedSteps, 0);
        QVERIFY(!r2.latent.defined());
    }

    void flowEulerRejectsGrowingScales() {
        Schedule s = swd6();
        s.sampler = SamplerKind::FlowEuler;
        SamplerInputs in;
        in.schedule = &s;
        in.initialNoise = at::zeros({1, 16, 32, 32});
        in.model = [](const at::Tensor& x, const at::Tensor&, const Conditioning&) { return x; };
        SWD_EXPECT_ERROR(sampleFlowEuler(in), "runs at one scale", "step 1 has scale 48");
    }

    void validScheduleHasNoIssues() {
        QVERIFY2(validateSchedule(swd6()).empty(), describe(validateSchedule(swd6())).c_str());
    }

    // Guidance must be finite and at most kMaxGuidance (1e308 gave an all-black image).
    void guidanceIsBounded() {
        for (const double g : {0.0, 1.0, 4.5, 100.0}) {
            Schedule s = swd6();
            s.guidance = g;
            QVERIFY2(validateSchedule(s).empty(), describe(validateSchedule(s)).c_str());
        }
        for (const double g : {-0.5, 100.5, 1e308, std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity()}) {
            Schedule s = swd6();
            s.guidance = g;
            const auto issues = validateSchedule(s);
            QCOMPARE(issues.size(), std::size_t(1));
            QCOMPARE(issues.front().field, std::string("guidance"));
        }
    }

    void validationMessages() {
        Schedule s = swd6();
        s.sigmas.pop_back();
        auto issues = validateSchedule(s);
        QVERIFY2(hasIssue(issues, "sigmas", -1, "needs 7 values (one per step plus the final 0), found 6"),
                 describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "sigmas", 5, "the last sigma must be 0"), describe(issues).c_str());

        s = swd6();
        s.scales = {32, 47, 40, 800, 96, 128};
        s.sigmas = {1.0, 0.95, 0.95, std::nan(""), 1.5, 0.6, 0.0};
        issues = validateForFamily(s);  // the family's limit: SD3.5 Medium's table covers 768
        QVERIFY2(hasIssue(issues, "scales", 1, "must be a multiple of 2"), describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "scales", 2, "smaller than the previous step's 47"),
                 describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "scales", 3, "exceeds 768 latent pixels"), describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "sigmas", 2, "must strictly decrease"), describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "sigmas", 3, "not a finite number"), describe(issues).c_str());
        QVERIFY2(hasIssue(issues, "sigmas", 4, "outside [0, 1]"), describe(issues).c_str());

        s = swd6();
        s.scales.clear();
        s.sigmas = {0.0};
        issues = validateSchedule(s);
        QVERIFY2(hasIssue(issues, "scales", -1, "at least one step"), describe(issues).c_str());

        s = swd6();
        s.scales[0] = -32;
        s.guidance = -1;
        s.t5Length = 1000;
        issues = validateSchedule(s);
        QVERIFY(hasIssue(issues, "scales", 0, "must be positive"));
        QVERIFY(hasIssue(issues, "guidance", -1, "from 0 to 100"));
        QVERIFY(hasIssue(issues, "t5_length", -1, "between 1 and 512"));

        // Large's positional table covers 384 latent px; an explicit limit overrides the family's.
        s = swd6();
        s.family = ModelFamily::SD35Large;
        s.scales.back() = 400;
        QVERIFY(hasIssue(validateForFamily(s), "scales", 5, "exceeds 384"));
        QVERIFY(!hasIssue(validateForFamily(s, {1024, 2}), "scales", 5, "exceeds"));
        QVERIFY(!hasIssue(validateSchedule(s), "scales", 5, "exceeds"));  // no family, no limit
    }

    // Every kind's id reads back as itself, the aliases users type are accepted, and the list of ids a
    // message offers is the table's (the names the CLI, presets and records have always used).
    void kindsRoundTripThroughTheirTables() {
        auto roundTrips = [](auto sample) {
            using E = decltype(sample);
            for (std::size_t i = 0; i < kindCount<E>(); ++i) {
                const E e = static_cast<E>(i);
                if (kindFromId<E>(kindId(e)) != e) return false;
            }
            return !kindFromId<E>("no-such-id").has_value();
        };
        QVERIFY(roundTrips(Precision::Auto));
        QVERIFY(roundTrips(PreviewMode::Off));
        QVERIFY(roundTrips(ModelFamily::Any));
        QVERIFY(roundTrips(SamplerKind::ScaleWise));
        QVERIFY(roundTrips(Stage::Done));
        QVERIFY(roundTrips(FoundKind::Adapter));
        QVERIFY(roundTrips(MatchQuality::None));
        QVERIFY(roundTrips(AttentionBackend::Tiled));
        QVERIFY(roundTrips(MatmulBackend::OneDnn));
        QVERIFY(roundTrips(ComponentKind::Lora));
        QVERIFY(roundTrips(WeightLayout::Peft));
        QCOMPARE(precisionFromName("half"), std::optional<Precision>(Precision::FP16));
        QCOMPARE(precisionFromName("bfloat16"), std::optional<Precision>(Precision::BF16));
        QCOMPARE(samplerFromId("swd"), std::optional<SamplerKind>(SamplerKind::ScaleWise));
        QCOMPARE(samplerFromId("euler"), std::optional<SamplerKind>(SamplerKind::FlowEuler));
        QVERIFY(!precisionFromName("fp1").has_value());  // an alias is a whole word, not a prefix
        QCOMPARE(kindIdList<PreviewMode>(), std::string("vae, taesd, projection or off"));
        QCOMPARE(std::string(modelFamilyName(ModelFamily::SD35Large)), std::string("SD3.5 Large"));
        QCOMPARE(std::string(stageName(Stage::EncodingPrompt)), std::string("encoding the prompt"));
        QCOMPARE(std::string(foundKindName(FoundKind::Checkpoint)), std::string("single file"));
    }

    // The SD3 family answers for every SD3 variant: its latent format (the SD3 VAE's numbers), its two
    // samplers, the positional-table limit of each variant and the cost shape.
    void sd3FamilyDescribesItsModels() {
        const Family& f = familyFor(ModelFamily::SD35Medium);
        QCOMPARE(std::string(f.id()), std::string("sd3"));
        QCOMPARE(&familyFor(ModelFamily::Any), &f);
        QCOMPARE(registeredFamilies().size(), std::size_t(3));  // SD3, SDXL, SD1.5
        const LatentFormat& latent = f.latentFormat();
        QCOMPARE(latent.channels, 16);
        QCOMPARE(latent.scalingFactor, 1.5305);
        QCOMPARE(latent.shiftFactor, 0.0609);
        QCOMPARE(latent.rgbFactors.size(), std::size_t(16));
        QCOMPARE(latent.rgbBias[0], 0.2394f);
        QCOMPARE(f.samplers(), (std::vector<SamplerKind>{SamplerKind::ScaleWise, SamplerKind::FlowEuler}));
        QVERIFY(f.scheduleKind(SamplerKind::ScaleWise) == ScheduleKind::ScaleWise);
        QVERIFY(f.scheduleKind(SamplerKind::FlowEuler) == ScheduleKind::FlowGrid);
        // pos_embed_max_size x patch 2: Medium 384 -> 768, Large and SD3 Medium 192 -> 384; Any: no limit.
        QCOMPARE(f.maxLatentSide(ModelFamily::SD35Medium), 768);
        QCOMPARE(f.maxLatentSide(ModelFamily::SD35Large), 384);
        QCOMPARE(f.maxLatentSide(ModelFamily::SD3Medium), 384);
        QCOMPARE(f.maxLatentSide(ModelFamily::Any), 0);
        QCOMPARE(f.costShape(ModelFamily::SD35Large).transformer()->hidden, 2432);
        QCOMPARE(f.costShape(ModelFamily::SD35Medium).transformer()->dualLayers, 13);
        // Its variants, as the catalog names and prefers them.
        const auto variants = registeredVariants();
        QCOMPARE(variants.size(), std::size_t(5));
        QVERIFY(variants.front().model == ModelFamily::SD35Medium);
        QVERIFY(findVariant(ModelFamily::Any) == nullptr);
        QCOMPARE(std::string(findVariant(ModelFamily::SD35Large)->repo),
                 std::string("stabilityai/stable-diffusion-3.5-large"));
        QVERIFY(findVariantByManifest("sd3_medium")->model == ModelFamily::SD3Medium);
        QCOMPARE(std::string(findVariant(ModelFamily::SD3Medium)->adapterManifest), std::string());
        QVERIFY(findVariantByManifest("flux_dev") == nullptr);
    }

    // SD1.5 and SDXL: one family class, two instances that differ in numbers; DDPM samplers only.
    void sdFamiliesDescribeTheirModels() {
        const Family& xl = familyFor(ModelFamily::SDXL);
        const Family& sd15 = familyFor(ModelFamily::SD15);
        QVERIFY(&xl != &sd15);
        QVERIFY(&xl != &familyFor(ModelFamily::Any));
        QCOMPARE(std::string(xl.id()), std::string("sdxl"));
        QCOMPARE(xl.latentFormat().channels, 4);
        QCOMPARE(xl.latentFormat().scalingFactor, 0.13025);
        QCOMPARE(sd15.latentFormat().scalingFactor, 0.18215);
        QCOMPARE(xl.latentFormat().shiftFactor, 0.0);
        QCOMPARE(xl.latentFormat().rgbFactors.size(), std::size_t(4));
        QCOMPARE(xl.samplers(), (std::vector<SamplerKind>{SamplerKind::Sid, SamplerKind::EulerDiscrete}));
        QVERIFY(xl.scheduleKind(SamplerKind::Sid) == ScheduleKind::DdpmTimesteps);
        QCOMPARE(xl.maxLatentSide(ModelFamily::SDXL), 0);
        QCOMPARE(std::string(findVariant(ModelFamily::SDXL)->repo),
                 std::string("stabilityai/stable-diffusion-xl-base-1.0"));
        QCOMPARE(std::string(findVariant(ModelFamily::SD15)->singleFile),
                 std::string("v1-5-pruned-emaonly.safetensors"));
        Schedule flow = makeFullResolutionSchedule(28, 3.0, 128, 4.5, 256);
        flow.family = ModelFamily::SDXL;
        QVERIFY(hasIssue(validateForFamily(flow), "sampler", -1, "no flow-euler sampler"));
    }

    void builtinPresetsAreTheIssueTables() {
        const auto lib = PresetLibrary::builtin();
        QCOMPARE(lib.all().size(), std::size_t(14));
        for (const auto& s : lib.all()) {
            QVERIFY2(validateForFamily(s).empty(), (s.id + ": " + describe(validateForFamily(s))).c_str());
            if (!s.compareWith.empty()) QCOMPARE(lib.get(s.compareWith).family, s.family);
        }

        // SiD (issue 14 §6): SD1.5 1/2/4 steps from 625, SDXL 4 steps from 625 and from 999, no CFG.
        const Schedule& sid1 = lib.get("sid-sd15-1step");
        QCOMPARE(sid1.sampler, SamplerKind::Sid);
        QCOMPARE(sid1.family, ModelFamily::SD15);
        QCOMPARE(sid1.timesteps, std::vector<int>{625});
        QCOMPARE(sid1.scales, std::vector<int>{64});
        QCOMPARE(lib.get("sid-sd15-2step").timesteps, (std::vector<int>{625, 312}));
        QCOMPARE(lib.get("sid-sd15-4step").timesteps, (std::vector<int>{625, 468, 312, 156}));
        const Schedule& xl = lib.get("sid-sdxl-4step");
        QCOMPARE(xl.family, ModelFamily::SDXL);
        QCOMPARE(xl.timesteps, (std::vector<int>{625, 468, 312, 156}));
        QCOMPARE(xl.scales, std::vector<int>(4, 128));
        QCOMPARE(xl.guidance, 1.0);
        QCOMPARE(lib.get("sid-sdxl-4step-t999").timesteps, (std::vector<int>{999, 749, 499, 249}));
        const Schedule& xlFull = lib.get("sdxl-full");
        QCOMPARE(xlFull.sampler, SamplerKind::EulerDiscrete);
        QCOMPARE(xlFull.stepCount(), 40);
        QCOMPARE(xlFull.guidance, 5.0);
        QCOMPARE(xlFull.timesteps.front(), 976);
        const Schedule& sd15Full = lib.get("sd15-full");
        QCOMPARE(sd15Full.stepCount(), 50);
        QCOMPARE(sd15Full.guidance, 7.5);
        QCOMPARE(sd15Full.scales.front(), 64);
        QCOMPARE(xl.compareWith, std::string("sdxl-full"));
        // A SiD preset on the SD3 family is refused by the family, not by a switch.
        Schedule wrong = xl;
        wrong.family = ModelFamily::SD35Medium;
        QVERIFY(hasIssue(validateForFamily(wrong), "sampler", -1, "no sid sampler"));

        const Schedule& m6 = lib.get("swd-2b-6step");
        QCOMPARE(m6.scales, (std::vector<int>{32, 48, 64, 80, 96, 128}));
        QCOMPARE(m6.sigmas, (std::vector<double>{1.0, 0.9454, 0.8959, 0.7904, 0.7371, 0.6022, 0.0}));
        QCOMPARE(m6.sampler, SamplerKind::ScaleWise);
        QCOMPARE(m6.family, ModelFamily::SD35Medium);
        QCOMPARE(m6.adapter, std::string("yresearch/swd-medium-6-steps"));
        QCOMPARE(lib.get("SwD 2B 4-step").scales, (std::vector<int>{32, 64, 96, 128}));
        QCOMPARE(lib.get("swd-2b-4step").sigmas, (std::vector<double>{1.0, 0.9454, 0.7904, 0.6022, 0.0}));
        QCOMPARE(lib.get("swd-2b-4step-card").scales, (std::vector<int>{64, 80, 96, 128}));
        QCOMPARE(lib.get("swd-2b-4step-card").sigmas,
                 (std::vector<double>{1.0, 0.8959, 0.7371, 0.6022, 0.0}));
        QCOMPARE(lib.get("swd-8b-6step").sigmas, m6.sigmas);
        QCOMPARE(lib.get("swd-8b-6step").family, ModelFamily::SD35Large);
        QCOMPARE(lib.get("swd-8b-4step").scales, (std::vector<int>{64, 80, 96, 128}));

        const Schedule& mf = lib.get("sd35-medium-full");
        QCOMPARE(mf.stepCount(), 40);
        QCOMPARE(mf.guidance, 4.5);
        QCOMPARE(mf.sampler, SamplerKind::FlowEuler);
        QCOMPARE(mf.scales, std::vector<int>(40, 128));
        QCOMPARE(mf.sigmas, flowMatchSigmas(40, 3.0));
        const Schedule& lf = lib.get("sd35-large-full");
        QCOMPARE(lf.stepCount(), 28);
        QCOMPARE(lf.guidance, 3.5);
        QCOMPARE(m6.compareWith, std::string("sd35-medium-full"));
        SWD_EXPECT_ERROR(lib.get("nope"), "unknown preset 'nope'", "swd-2b-6step");
    }

    void jsonRoundTrip() {
        const auto lib = PresetLibrary::builtin();
        for (const auto& s : lib.all()) {
            const Schedule back = scheduleFromJson(scheduleToJson(s), "round trip");
            QCOMPARE(back.scales, s.scales);
            QCOMPARE(back.sigmas, s.sigmas);
            QCOMPARE(back.guidance, s.guidance);
            QCOMPARE(back.t5Length, s.t5Length);
            QCOMPARE(back.adapter, s.adapter);
            QCOMPARE(back.steps.has_value(), s.steps.has_value());
        }
        // The generator form stays a generator form when saved.
        QVERIFY(scheduleToJson(lib.get("sd35-large-full")).contains("steps"));
        QVERIFY(!scheduleToJson(lib.get("sd35-large-full")).contains("sigmas"));
    }

    void jsonErrorsNameTheField() {
        SWD_EXPECT_ERROR(
            scheduleFromJson(nlohmann::json::parse(R"({"scales":[32],"sigmas":[1,0]})"), "x.json"), "x.json",
            "missing field \"name\"");
        SWD_EXPECT_ERROR(
            scheduleFromJson(nlohmann::json::parse(R"({"name":"a","scales":"32","sigmas":[1,0]})"), "x.json"),
            "field \"scales\" has the wrong type");
        SWD_EXPECT_ERROR(scheduleFromJson(nlohmann::json::parse(
                                              R"({"name":"a","model":"sd9","scales":[32],"sigmas":[1,0]})"),
                                          "x.json"),
                         "unknown model \"sd9\"");
        SWD_EXPECT_ERROR(
            scheduleFromJson(
                nlohmann::json::parse(R"({"name":"a","sampler":"ddim","scales":[32],"sigmas":[1,0]})"),
                "x.json"),
            "unknown sampler \"ddim\"");
    }

    void userPresetFolder() {
        swd::test::ScratchDir dir;
        Schedule mine = swd6();
        mine.id = "swd-2b-6step";  // replaces the built-in of the same id
        mine.name = "My 6-step";
        saveScheduleFile(mine, dir.file("swd-2b-6step.json").string());
        swd::test::writeBytes(dir.file("broken.json"), "{ not json");
        auto lib = PresetLibrary::builtin();
        lib.addFolder(dir.path());
        QCOMPARE(lib.all().size(), PresetLibrary::builtin().all().size());
        QCOMPARE(lib.get("swd-2b-6step").name, std::string("My 6-step"));
        QCOMPARE(lib.loadErrors().size(), std::size_t(1));
        QVERIFY(lib.loadErrors()[0].find("broken.json") != std::string::npos);
    }

    // --- hostile inputs (issue 18) -----------------------------------------------------------------

    void scheduleIntegersAreNeverTruncated() {
        auto load = [](const std::string& text) {
            return scheduleFromJson(nlohmann::json::parse(text), "s.json");
        };
        SWD_EXPECT_ERROR(load(R"({"name":"a","scales":[32.9],"sigmas":[1,0]})"), "s.json",
                         "field \"scales[0]\"", "32.9 is not a whole number");
        SWD_EXPECT_ERROR(load(R"({"name":"a","scales":[4294967424],"sigmas":[1,0]})"), "field \"scales[0]\"",
                         "4294967424 is out of range");
        SWD_EXPECT_ERROR(load(R"({"name":"a","steps":4294967300,"scale":128})"), "field \"steps\"",
                         "4294967300 is out of range");
        SWD_EXPECT_ERROR(load(R"({"name":"a","t5_length":4294967808,"scales":[32],"sigmas":[1,0]})"),
                         "field \"t5_length\"", "4294967808 is out of range");
        // Whole numbers written as doubles are read exactly.
        QCOMPARE(load(R"({"name":"a","scales":[32.0],"sigmas":[1,0]})").scales, std::vector<int>{32});
    }

    void scheduleReportsEveryProblem() {
        const std::string text =
            R"({"name":5,"model":"sd9","guidance":"high","t5_length":1.5,"scales":[32,48.5,"x"],"sigmas":"none"})";
        const std::string message =
            test::errorOf([&] { scheduleFromJson(nlohmann::json::parse(text), "multi.json"); });
        QVERIFY2(message.find("multi.json: 7 problems:") == 0, message.c_str());
        for (const char* part :
             {"field \"name\"", "unknown model \"sd9\"", "field \"guidance\"", "field \"t5_length\"",
              "field \"scales[1]\"", "field \"scales[2]\"", "field \"sigmas\""})
            QVERIFY2(message.find(part) != std::string::npos, part);
        // Many problems: 20 are listed, the rest counted; long values are cut.
        nlohmann::json many = {{"name", std::string(100000, 'n')}, {"sigmas", {1, 0}}};
        many["name"] = 1;
        many["scales"] = nlohmann::json::array();
        for (int i = 0; i < 500; ++i) many["scales"].push_back(std::string(10000, 'v'));
        const std::string bounded = test::errorOf([&] { scheduleFromJson(many, "many.json"); });
        QVERIFY2(bounded.find("many.json: 501 problems:") == 0, bounded.substr(0, 200).c_str());
        QVERIFY(bounded.find("... and 481 more") != std::string::npos);
        QVERIFY2(bounded.size() < 6000, std::to_string(bounded.size()).c_str());
    }

    void explicitSchedulesHaveTheSameStepCap() {
        QCOMPARE(kMaxScheduleSteps, 1000);
        Schedule s;
        s.name = "long";
        s.sampler = SamplerKind::FlowEuler;
        s.scales.assign(kMaxScheduleSteps, 128);
        s.sigmas = flowMatchSigmas(kMaxScheduleSteps, 3.0);
        QVERIFY2(validateSchedule(s).empty(), describe(validateSchedule(s)).c_str());
        s.scales.assign(10000, 128);
        s.sigmas = flowMatchSigmas(10000, 3.0);
        const auto issues = validateSchedule(s);
        QCOMPARE(issues.size(), std::size_t(1));  // the count, not one issue per step
        QVERIFY(hasIssue(issues, "scales", -1, "10000 steps is more than the 1000"));
        SWD_EXPECT_ERROR(
            scheduleFromJson(nlohmann::json::parse(R"({"name":"a","steps":1001,"scale":128})"), "g.json"),
            "g.json", "\"steps\" must be 1..1000");
        // Issue lists are bounded when printed.
        std::vector<ScheduleIssue> many(30, ScheduleIssue{"scales", 1, "bad"});
        const std::string text = formatScheduleIssues(many);
        QCOMPARE(static_cast<int>(std::count(text.begin(), text.end(), '\n')), 21);
        QVERIFY(text.find("... and 10 more") != std::string::npos);
    }

    void hostileImageRecords() {
        // The run stored in an image (read by `swd inspect` and the app's Open image).
        const std::string schedule = R"({"name":"a","scales":[32],"sigmas":[1,0]})";
        auto record = [&](const std::string& request) {
            return R"({"format":"swd-studio/1","request":)" + request + "}";
        };
        QCOMPARE(parseImageRecord(record(R"({"seed":7,"schedule":)" + schedule + "}"), "ok.png").request.seed,
                 std::uint64_t(7));
        SWD_EXPECT_ERROR(parseImageRecord(record(test::deepJson(100000)), "deep.png"), "deep.png",
                         "nested deeper than 64");
        SWD_EXPECT_ERROR(parseImageRecord(record(R"({"seed":1e400,"schedule":)" + schedule + "}"), "big.png"),
                         "big.png", "field \"request.seed\"", "out of range");
        SWD_EXPECT_ERROR(parseImageRecord(record(R"({"seed":7.5,"schedule":)" + schedule + "}"), "frac.png"),
                         "frac.png", "field \"seed\"", "7.5 is not a whole number");
        SWD_EXPECT_ERROR(parseImageRecord(record(R"({"seed":-1,"schedule":)" + schedule + "}"), "neg.png"),
                         "neg.png", "field \"seed\"", "-1 is out of range");
        SWD_EXPECT_ERROR(parseImageRecord(R"({"format":5,"request":{}})", "fmt.png"), "fmt.png",
                         "not a SwD Studio run");
        SWD_EXPECT_ERROR(parseImageRecord(record(R"({"prompt":)" + test::deepJson(60, true) +
                                                 R"(,"schedule":)" + schedule + "}"),
                                          "prompt.png"),
                         "prompt.png", "field \"prompt\"", "a string is needed, found an object of 1 fields");
    }

    void hostileScheduleFiles() {
        test::ScratchDir dir;
        // 1e400: the file and the field, not nlohmann's text.
        swd::test::writeBytes(dir.file("huge.json"),
                              R"({"name":"a","guidance":1e400,"scales":[32],"sigmas":[1,0]})");
        SWD_EXPECT_ERROR(loadScheduleFile(dir.file("huge.json").string()), "huge.json", "field \"guidance\"",
                         "out of range");
        // Nested 100k deep: refused quickly, no stack overflow.
        swd::test::writeBytes(dir.file("deep.json"), R"({"name":"a","scales":)" +
                                                         swd::test::deepJson(100000) + R"(,"sigmas":[1,0]})");
        SWD_EXPECT_ERROR(loadScheduleFile(dir.file("deep.json").string()), "deep.json",
                         "nested deeper than 64");
        // A folder and a FIFO as the schedule file.
        std::filesystem::create_directories(dir.file("folder.json"));
        SWD_EXPECT_ERROR(loadScheduleFile(dir.file("folder.json").string()), "folder.json", "is a folder");
        swd::test::makeFifo(dir.file("fifo.json"));
        QVERIFY(!swd::test::blockedOnFifo(dir.file("fifo.json"), 10, [&] {
            SWD_EXPECT_ERROR(loadScheduleFile(dir.file("fifo.json").string()), "fifo.json", "is a FIFO");
        }));
        // A file over the size limit.
        swd::test::writeBytes(dir.file("big.json"), std::string(kMaxScheduleFileBytes + 1, ' '));
        SWD_EXPECT_ERROR(loadScheduleFile(dir.file("big.json").string()), "big.json", "more than the");

        // All of them in a user preset folder: every one is reported, none stops the others.
        saveScheduleFile(swd6(), dir.file("good.json").string());
        auto lib = PresetLibrary::builtin();
        QVERIFY(!swd::test::blockedOnFifo(dir.file("fifo.json"), 10, [&] { lib.addFolder(dir.path()); }));
        QCOMPARE(lib.loadErrors().size(), std::size_t(5));
        QVERIFY(lib.find("test") != nullptr);
    }
};

QTEST_GUILESS_MAIN(TestCoreSampling)
#include "tst_core_sampling.moc"
