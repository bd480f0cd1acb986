#include "models/linear.h"

#include "kernels/dnnl_backend.h"
#include "models/op_profile.h"
#include "util/error.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unordered_map>

namespace swd {

#if SWD_HAVE_ONEDNN
struct Linear::Packed {
    dnnl::memory::desc desc;
    at::Tensor buffer;  // bytes
};
#else
struct Linear::Packed {};
#endif

Linear::Linear(std::string name, at::Tensor weight, at::Tensor bias, MatmulBackend backend)
    : m_name(std::move(name)), m_weight(weight.contiguous()), m_backend(backend) {
    if (m_weight.dim() != 2) throwInternal("Linear {}: weight must be 2-D, got {}", m_name, m_weight.dim());
    m_out = m_weight.size(0);
    m_in = m_weight.size(1);
    m_dtype = m_weight.scalar_type();
    if (bias.defined()) {
        // oneDNN adds an fp32 bias inside the matmul's fp32 accumulation.
        m_bias = backend == MatmulBackend::OneDnn ? bias.to(at::kFloat).contiguous() : bias.contiguous();
    }
    if (backend == MatmulBackend::OneDnn && !dnnl_backend::usable(m_weight.scalar_type()))
        throwInternal("Linear {}: oneDNN cannot run {}", m_name, c10::toString(m_weight.scalar_type()));
}

const void* Linear::weightStorage() const {
#if SWD_HAVE_ONEDNN
    if (m_packed) return m_packed->buffer.data_ptr();
#endif
    return m_weight.defined() ? m_weight.data_ptr() : nullptr;
}

at::Tensor Linear::atenForward(const at::Tensor& x) const {
    profile::Scope scope("matmul (aten linear, + lora)",
                         2.0 * static_cast<double>(x.numel()) * outFeatures());
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
    at::Tensor out = at::empty(outShape, x.options().dtype(m_dtype));
    onednnRun(x.reshape({-1, inFeatures()}), out.view({-1, outFeatures()}), Epilogue::None, {});
    return out;
}

at::Tensor Linear::forwardGelu(const at::Tensor& x) const {
    if (m_backend == MatmulBackend::Aten) return at::gelu(atenForward(x), "tanh");
    std::vector<int64_t> outShape = x.sizes().vec();
    outShape.back() = outFeatures();
    at::Tensor out = at::empty(outShape, x.options().dtype(m_dtype));
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
    const std::string key =
        fmt::format("lin.plain {}x{} s{} w{}x{} {} {} d{} {} {}", src.size(0), src.size(1), src.stride(0),
                    w.size(0), w.size(1), c10::toString(src.scalar_type()), c10::toString(w.scalar_type()),
                    dst.stride(0), c10::toString(dst.scalar_type()), scale);
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

at::Tensor Linear::weight() const {
    if (!m_packed) return m_weight;
    // Back from the blocked layout into [out, in] rows.
    at::Tensor plain = at::empty({m_out, m_in}, at::TensorOptions().dtype(m_dtype));
    dnnl::memory src(m_packed->desc, dnnl_backend::engine(), m_packed->buffer.data_ptr());
    dnnl::memory dst = dnnl_backend::wrap(weightsDesc(plain), plain);
    dnnl::reorder(src, dst).execute(dnnl_backend::stream(), src, dst);
    dnnl_backend::stream().wait();
    return plain;
}

bool Linear::pack() {
    if (m_backend != MatmulBackend::OneDnn || m_packed || !m_weight.defined()) return false;
    const auto plainDesc = weightsDesc(m_weight);
    const auto dt = dnnl_backend::dataType(m_dtype);
    const memory::desc anyWeights({m_in, m_out}, dt, memory::format_tag::any);
    const memory::desc bias({1, m_out}, memory::data_type::f32, memory::format_tag::ab);
    auto pdFor = [&](int64_t rows, const memory::desc& w) {
        return dnnl::matmul::primitive_desc(
            dnnl::matmul::desc(memory::desc({rows, m_in}, dt, memory::format_tag::ab), w, bias,
                               memory::desc({rows, m_out}, memory::data_type::f32, memory::format_tag::ab)),
            dnnl_backend::engine());
    };
    memory::desc packedDesc;
    try {
        packedDesc = pdFor(512, anyWeights).weights_desc();
        if (packedDesc == plainDesc) return false;
        // The blocked layout must serve any number of rows with an optimised kernel.
        for (int64_t rows : {1, 77, 4096})
            if (std::string(pdFor(rows, packedDesc).impl_info_str()).rfind("ref", 0) == 0) return false;
    } catch (const dnnl::error&) {
        return false;
    }
    auto packed = std::make_shared<Packed>();
    packed->desc = packedDesc;
    packed->buffer =
        at::empty({static_cast<int64_t>(packedDesc.get_size())}, at::TensorOptions().dtype(at::kByte));
    dnnl::memory src = dnnl_backend::wrap(plainDesc, m_weight);
    dnnl::memory dst(packedDesc, dnnl_backend::engine(), packed->buffer.data_ptr());
    dnnl::reorder(src, dst).execute(dnnl_backend::stream(), src, dst);
    dnnl_backend::stream().wait();
    m_packed = std::move(packed);
    m_weight = at::Tensor();
    return true;
}

void Linear::onednnRun(const at::Tensor& x, const at::Tensor& dst, Epilogue epilogue,
                       const at::Tensor& gate) const {
    const int64_t M = x.size(0), K = inFeatures(), N = outFeatures();
    if (x.dim() != 2 || x.size(1) != K || x.stride(1) != 1 || dst.dim() != 2 || dst.size(0) != M ||
        dst.size(1) != N || dst.stride(1) != 1)
        throwInternal("Linear {}: bad operands x {} (strides {}) dst {}", m_name, x.sizes(), x.strides(),
                      dst.sizes());
    if (M == 0) return;
    const at::Tensor src = x.scalar_type() == m_dtype ? x : x.to(m_dtype);

    // LoRA: delta = scale·(x·Aᵀ)·Bᵀ in fp32, added inside the main matmul before its activation / gate.
    at::Tensor delta;
    if (m_lora) {
        profile::Scope scope("lora (two low-rank matmuls)",
                             2.0 * M * m_lora->down.size(0) * static_cast<double>(K + N));
        const at::Tensor t = at::empty({M, m_lora->down.size(0)}, src.options());
        plainMatmul(src, m_lora->down, t, 1.0);
        delta = at::empty({M, N}, src.options().dtype(at::kFloat));
        plainMatmul(t, m_lora->up, delta, m_lora->scale);
    }

    const auto sd = dnnl_backend::describe(src);
    const auto wd = m_packed ? m_packed->desc : weightsDesc(m_weight);
    const auto dd = dnnl_backend::describe(dst);
    const memory::desc bd =
        m_bias.defined() ? dnnl_backend::describe({1, N}, {N, 1}, at::kFloat) : memory::desc();
    const memory::desc deltaD = delta.defined() ? dnnl_backend::describe(delta) : memory::desc();
    const memory::desc gateD = dnnl_backend::describe({1, N}, {N, 1}, at::kFloat);

    const std::string key = fmt::format("lin {}x{} s{} n{} {} b{} d{} {} e{} l{} p{}", M, K, src.stride(0), N,
                                        c10::toString(src.scalar_type()), m_bias.defined(), dst.stride(0),
                                        c10::toString(dst.scalar_type()), static_cast<int>(epilogue),
                                        delta.defined(), m_packed != nullptr);
    auto prim = dnnl_backend::cachedPrimitive(key, [&] {
        dnnl::post_ops ops;
        if (delta.defined()) ops.append_binary(dnnl::algorithm::binary_add, deltaD);
        if (epilogue == Epilogue::Gelu)
            ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
        if (epilogue == Epilogue::GatedResidual) {
            ops.append_binary(dnnl::algorithm::binary_mul, gateD);
            ops.append_sum(1.0f);
        }
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        return dnnl::matmul(
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(sd, wd, bd, dd), attr, dnnl_backend::engine()));
    });

    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, dnnl_backend::wrap(sd, src)},
        {DNNL_ARG_WEIGHTS, m_packed ? dnnl::memory(wd, dnnl_backend::engine(), m_packed->buffer.data_ptr())
                                    : dnnl_backend::wrap(wd, m_weight)},
        {DNNL_ARG_DST, dnnl_backend::wrap(dd, dst)}};
    if (m_bias.defined()) args.emplace(DNNL_ARG_BIAS, dnnl_backend::wrap(bd, m_bias));
    int postOp = 0;
    at::Tensor gateF;
    if (delta.defined())
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(postOp++) | DNNL_ARG_SRC_1,
                     dnnl_backend::wrap(deltaD, delta));
    if (epilogue == Epilogue::Gelu) ++postOp;
    if (epilogue == Epilogue::GatedResidual) {
        gateF = gate.to(at::kFloat).contiguous();
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(postOp) | DNNL_ARG_SRC_1,
                     dnnl_backend::wrap(gateD, gateF));
    }
    const char* kind = M <= 16                      ? "matmul, small M (adaLN, embedders)"
                       : epilogue == Epilogue::Gelu ? "matmul + bias + gelu (mlp up)"
                       : epilogue == Epilogue::GatedResidual
                           ? "matmul + bias + gate + residual (out, mlp down)"
                           : "matmul + bias (q/k/v, embedders)";
    profile::Scope scope(kind, 2.0 * M * K * N);
    prim.execute(dnnl_backend::stream(), args);
    dnnl_backend::stream().wait();
}

#else

at::Tensor Linear::weight() const {
    return m_weight;
}

bool Linear::pack() {
    return false;
}

void Linear::onednnRun(const at::Tensor&, const at::Tensor&, Epilogue, const at::Tensor&) const {
    throwInternal("Linear {}: this build has no oneDNN", m_name);
}

#endif

}  // namespace swd
