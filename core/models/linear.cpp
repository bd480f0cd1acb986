#include "models/linear.h"

#include "models/dnnl_backend.h"
#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unordered_map>

namespace swd {

const char* matmulBackendName(MatmulBackend backend) {
    return backend == MatmulBackend::OneDnn ? "onednn" : "aten";
}

Linear::Linear(std::string name, at::Tensor weight, at::Tensor bias, MatmulBackend backend)
    : m_name(std::move(name)), m_weight(weight.contiguous()), m_backend(backend) {
    if (m_weight.dim() != 2) throwInternal("Linear {}: weight must be 2-D, got {}", m_name, m_weight.dim());
    if (bias.defined()) {
        // oneDNN adds an fp32 bias inside the matmul's fp32 accumulation.
        m_bias = backend == MatmulBackend::OneDnn ? bias.to(at::kFloat).contiguous() : bias.contiguous();
    }
    if (backend == MatmulBackend::OneDnn && !dnnl_backend::usable(m_weight.scalar_type()))
        throwInternal("Linear {}: oneDNN cannot run {}", m_name, c10::toString(m_weight.scalar_type()));
}

at::Tensor Linear::atenForward(const at::Tensor& x) const {
    at::Tensor y = at::linear(x, m_weight, m_bias);
    if (m_lora) {
        // PEFT's order: result + lora_B(lora_A(x)) * scaling
        y = y + at::linear(at::linear(x, m_lora->down), m_lora->up) * m_lora->scale;
    }
    return y;
}

at::Tensor Linear::forward(const at::Tensor& x) const {
    if (m_backend == MatmulBackend::Aten) return atenForward(x);
    std::vector<int64_t> outShape = x.sizes().vec();
    outShape.back() = outFeatures();
    at::Tensor out = at::empty(outShape, x.options().dtype(m_weight.scalar_type()));
    onednnRun(x.reshape({-1, inFeatures()}), out.view({-1, outFeatures()}), Epilogue::None, {});
    return out;
}

at::Tensor Linear::forwardGelu(const at::Tensor& x) const {
    if (m_backend == MatmulBackend::Aten) return at::gelu(atenForward(x), "tanh");
    std::vector<int64_t> outShape = x.sizes().vec();
    outShape.back() = outFeatures();
    at::Tensor out = at::empty(outShape, x.options().dtype(m_weight.scalar_type()));
    onednnRun(x.reshape({-1, inFeatures()}), out.view({-1, outFeatures()}), Epilogue::Gelu, {});
    return out;
}

void Linear::forwardInto(const at::Tensor& x, const at::Tensor& out) const {
    if (m_backend == MatmulBackend::Aten) {
        out.copy_(atenForward(x));
        return;
    }
    onednnRun(x, out, Epilogue::None, {});
}

void Linear::addGatedTo(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& residual) const {
    if (m_backend == MatmulBackend::Aten) {
        // reference: hidden = hidden + gate.unsqueeze(1) * out
        residual.add_(gate * atenForward(x));
        return;
    }
    onednnRun(x, residual, Epilogue::GatedResidual, gate);
}

#if SWD_HAVE_ONEDNN

namespace {

using dnnl::memory;

// [M, K] x Wᵀ with W [N, K] row-major (= weights [K, N] with strides {1, K}).
memory::desc weightsDesc(const at::Tensor& w) {
    return dnnl_backend::describe({w.size(1), w.size(0)}, {1, w.size(1)}, w.scalar_type());
}

// dst = scale · src·wᵀ (no bias, no post-ops): the two low-rank matmuls of a LoRA.
void plainMatmul(const at::Tensor& src, const at::Tensor& w, const at::Tensor& dst, double scale) {
    const auto sd = dnnl_backend::describe(src);
    const auto wd = weightsDesc(w);
    const auto dd = dnnl_backend::describe(dst);
    const std::string key = fmt::format("lin.plain {}x{} s{} w{}x{} {} {} d{} {} {}", src.size(0), src.size(1),
                                        src.stride(0), w.size(0), w.size(1), c10::toString(src.scalar_type()),
                                        c10::toString(w.scalar_type()), dst.stride(0),
                                        c10::toString(dst.scalar_type()), scale);
    auto prim = dnnl_backend::cachedPrimitive(key, [&] {
        dnnl::primitive_attr attr;
        if (scale != 1.0) attr.set_output_scales(0, {static_cast<float>(scale)});
        return dnnl::matmul(
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(sd, wd, dd), attr, dnnl_backend::engine()));
    });
    prim.execute(dnnl_backend::stream(), {{DNNL_ARG_SRC, dnnl_backend::wrap(sd, src)},
                                          {DNNL_ARG_WEIGHTS, dnnl_backend::wrap(wd, w)},
                                          {DNNL_ARG_DST, dnnl_backend::wrap(dd, dst)}});
}

}  // namespace

void Linear::onednnRun(const at::Tensor& x, const at::Tensor& dst, Epilogue epilogue, const at::Tensor& gate) const {
    const int64_t M = x.size(0), K = inFeatures(), N = outFeatures();
    if (x.dim() != 2 || x.size(1) != K || x.stride(1) != 1 || dst.dim() != 2 || dst.size(0) != M ||
        dst.size(1) != N || dst.stride(1) != 1)
        throwInternal("Linear {}: bad operands x {} (strides {}) dst {}", m_name, x.sizes(), x.strides(),
                      dst.sizes());
    if (M == 0) return;
    const at::Tensor src = x.scalar_type() == m_weight.scalar_type() ? x : x.to(m_weight.scalar_type());

    // LoRA: delta = scale·(x·Aᵀ)·Bᵀ in fp32, added inside the main matmul before its activation / gate.
    at::Tensor delta;
    if (m_lora) {
        const at::Tensor t = at::empty({M, m_lora->down.size(0)}, src.options());
        plainMatmul(src, m_lora->down, t, 1.0);
        delta = at::empty({M, N}, src.options().dtype(at::kFloat));
        plainMatmul(t, m_lora->up, delta, m_lora->scale);
    }

    const auto sd = dnnl_backend::describe(src);
    const auto wd = weightsDesc(m_weight);
    const auto dd = dnnl_backend::describe(dst);
    const memory::desc bd = m_bias.defined() ? dnnl_backend::describe({1, N}, {N, 1}, at::kFloat) : memory::desc();
    const memory::desc deltaD = delta.defined() ? dnnl_backend::describe(delta) : memory::desc();
    const memory::desc gateD = dnnl_backend::describe({1, N}, {N, 1}, at::kFloat);

    const std::string key =
        fmt::format("lin {}x{} s{} n{} {} b{} d{} {} e{} l{}", M, K, src.stride(0), N, c10::toString(src.scalar_type()), m_bias.defined(), dst.stride(0),
                    c10::toString(dst.scalar_type()), static_cast<int>(epilogue), delta.defined());
    auto prim = dnnl_backend::cachedPrimitive(key, [&] {
        dnnl::post_ops ops;
        if (delta.defined()) ops.append_binary(dnnl::algorithm::binary_add, deltaD);
        if (epilogue == Epilogue::Gelu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
        if (epilogue == Epilogue::GatedResidual) {
            ops.append_binary(dnnl::algorithm::binary_mul, gateD);
            ops.append_sum(1.0f);
        }
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        return dnnl::matmul(
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(sd, wd, bd, dd), attr, dnnl_backend::engine()));
    });

    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, dnnl_backend::wrap(sd, src)},
                                            {DNNL_ARG_WEIGHTS, dnnl_backend::wrap(wd, m_weight)},
                                            {DNNL_ARG_DST, dnnl_backend::wrap(dd, dst)}};
    if (m_bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl_backend::wrap(bd, m_bias));
    int postOp = 0;
    at::Tensor gateF;
    if (delta.defined())
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(postOp++) | DNNL_ARG_SRC_1, dnnl_backend::wrap(deltaD, delta));
    if (epilogue == Epilogue::Gelu) ++postOp;
    if (epilogue == Epilogue::GatedResidual) {
        gateF = gate.to(at::kFloat).contiguous();
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(postOp) | DNNL_ARG_SRC_1, dnnl_backend::wrap(gateD, gateF));
    }
    prim.execute(dnnl_backend::stream(), args);
    dnnl_backend::stream().wait();
}

#else

void Linear::onednnRun(const at::Tensor&, const at::Tensor&, Epilogue, const at::Tensor&) const {
    throwInternal("Linear {}: this build has no oneDNN", m_name);
}

#endif

}  // namespace swd
