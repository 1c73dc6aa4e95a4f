#include "hipt/models/slide_model.h"

#include "autograd/nn_functions.h"

namespace hipt {

GatedAttention::GatedAttention(int64_t L, int64_t D, bool dropout, int64_t n_classes, Generator& init,
                               nn::GeneratorPtr gen, DType dtype) {
  auto branch = [&](const char* name, std::shared_ptr<nn::Dropout>* drop) {
    auto seq = register_module(name, std::make_shared<nn::Sequential>());
    auto fc = seq->register_module("0", std::make_shared<nn::Linear>(L, D, true, init, dtype));
    if (dropout) *drop = seq->register_module("2", std::make_shared<nn::Dropout>(0.25, gen));
    return fc;
  };
  fc_a = branch("attention_a", &drop_a);
  fc_b = branch("attention_b", &drop_b);
  fc_c = register_module("attention_c", std::make_shared<nn::Linear>(D, n_classes, true, init, dtype));
}

Tensor GatedAttention::forward(const Tensor& h) const {
  HIPT_CHECK(h.dim() == 2 && h.size(1) == fc_a->weight.size(1), "GatedAttention: h must be [M, {}], got {}",
             fc_a->weight.size(1), h.str());
  Tensor a = tanh(fc_a->forward(h)), b = sigmoid(fc_b->forward(h));
  if (drop_a) a = drop_a->forward(a);
  if (drop_b) b = drop_b->forward(b);
  return fc_c->forward(mul(a, b));
}

LinearReluDropout::LinearReluDropout(int64_t in, int64_t out, double p, Generator& init, nn::GeneratorPtr gen,
                                     DType dtype) {
  fc = register_module("0", std::make_shared<nn::Linear>(in, out, true, init, dtype));
  drop = register_module("2", std::make_shared<nn::Dropout>(p, std::move(gen)));
}

Tensor LinearReluDropout::forward(const Tensor& x) const { return drop->forward(relu(fc->forward(x))); }

HiptGlobalModel::HiptGlobalModel(const SlideModelConfig& config) : HiptGlobalModel(config, false) {}

HiptGlobalModel::HiptGlobalModel(const SlideModelConfig& config, bool defer)
    : config_(config), init_gen_(config.seed), gen_(std::make_shared<Generator>(config.seed + 1)) {
  HIPT_CHECK(config.n_classes > 0 && config.dim > 0 && config.layers > 0,
             "HIPT slide model: n_classes {}, dim {} and layers {} must be positive", config.n_classes, config.dim,
             config.layers);
  if (!defer) add_global_path();
}

void HiptGlobalModel::add_global_path() {
  const SlideModelConfig& c = config_;
  global_phi = register_module("global_phi",
                               std::make_shared<LinearReluDropout>(c.dim, c.dim, c.dropout, init_gen_, gen_, c.dtype));
  auto transformer = register_module("global_transformer", std::make_shared<nn::Sequential>());
  global_layers =
      transformer->register_module("layers", std::make_shared<nn::ModuleList<nn::TransformerEncoderLayer>>());
  for (int64_t i = 0; i < c.layers; ++i)
    global_layers->append(std::make_shared<nn::TransformerEncoderLayer>(c.dim, c.heads, c.feedforward, c.dropout,
                                                                        init_gen_, gen_, c.dtype));
  global_attn_pool = register_module(
      "global_attn_pool", std::make_shared<GatedAttention>(c.dim, c.dim, c.dropout > 0, 1, init_gen_, gen_, c.dtype));
  global_rho = register_module("global_rho",
                               std::make_shared<LinearReluDropout>(c.dim, c.dim, c.dropout, init_gen_, gen_, c.dtype));
  classifier = register_module("classifier", std::make_shared<nn::Linear>(c.dim, c.n_classes, true, init_gen_, c.dtype));
}

SlideOutput HiptGlobalModel::forward(const Tensor& h) const {
  HIPT_CHECK(h.dim() == 2 && h.size(0) > 0 && h.size(1) == config_.dim,
             "HIPT slide model: region features must be [M, {}] with M > 0, got {}", config_.dim, h.str());
  Tensor x = global_phi->forward(h);
  // The reference runs the encoder on [M, 1, dim] (sequence first, batch 1): regions attend to each other.
  x = unsqueeze(x, 0);
  for (const auto& layer : *global_layers) x = layer->forward(x);
  x = squeeze(x, 0);
  SlideOutput out;
  out.attention = softmax(transpose(global_attn_pool->forward(x), 0, 1), 1);  // [1, M]
  Tensor h_path = matmul(out.attention, x);                                   // [1, dim]
  out.logits = classifier->forward(global_rho->forward(h_path));
  out.probs = softmax(out.logits, 1);
  out.y_hat = ops::argmax(out.logits.detach(), 1, true);
  return out;
}

HiptLgpFc::HiptLgpFc(const SlideModelConfig& config) : HiptGlobalModel(config, true) {
  VitConfig vc = vit4k_xs_config();
  vc.seed = config.seed + 2;
  vc.dtype = config.dtype;
  vc.init = config.init_local_vit;
  HIPT_CHECK(vc.embed_dim == config.dim, "HIPT_LGP_FC: dim {} differs from ViT-4K's {}", config.dim, vc.embed_dim);
  local_vit = register_module("local_vit", std::make_shared<VisionTransformer4K>(vc));
  add_global_path();
}

Tensor HiptLgpFc::region_features(const Tensor& x_256) const {
  const int64_t C = local_vit->config().in_chans;
  HIPT_CHECK(x_256.dim() == 3 && x_256.size(0) > 0 && x_256.size(1) == 256 && x_256.size(2) == C,
             "HIPT_LGP_FC: x_256 must be [M, 256, {}] (M regions of 16x16 ViT-256 features), got {}", C, x_256.str());
  const int64_t M = x_256.size(0);
  // unfold(1, 16, 16).transpose(1, 2): [M, 256, C] -> [M, C, 16, 16] with cell (i, j) = token 16 i + j.
  return local_vit->forward(permute(reshape(x_256, {M, 16, 16, C}), {0, 3, 1, 2}));
}

SlideOutput HiptLgpFc::forward(const Tensor& x_256) const { return HiptGlobalModel::forward(region_features(x_256)); }

SurvivalOutput survival_head(const Tensor& logits) {
  HIPT_CHECK(logits.dim() == 2 && logits.size(1) > 0, "survival_head: logits must be [B, K], got {}", logits.str());
  SurvivalOutput out;
  out.hazards = sigmoid(logits);
  Tensor alive = sub(ops::ones({1}, logits.dtype(), logits.device()), out.hazards);
  std::vector<Tensor> s{slice(alive, 1, 0, 1)};
  for (int64_t k = 1; k < logits.size(1); ++k) s.push_back(mul(s.back(), slice(alive, 1, k, k + 1)));
  out.survival = cat(s, 1);
  out.risk = neg(sum(out.survival, 1));
  return out;
}

Tensor nll_survival_loss(const Tensor& hazards, const Tensor& survival, const Tensor& bin, const Tensor& censored,
                         double alpha, double eps) {
  HIPT_CHECK(hazards.dim() == 2 && survival.shape() == hazards.shape(),
             "nll_survival_loss: hazards and survival must both be [B, K], got {} and {}", hazards.str(),
             survival.str());
  const int64_t B = hazards.size(0), K = hazards.size(1);
  HIPT_CHECK(bin.dim() == 1 && bin.size(0) == B && bin.dtype() == DType::I64,
             "nll_survival_loss: bin must be i64 [{}], got {}", B, bin.str());
  HIPT_CHECK(censored.dim() == 1 && censored.size(0) == B, "nll_survival_loss: censored must be [{}], got {}", B,
             censored.str());
  std::vector<int64_t> y = ops::to_vector<int64_t>(bin), y_next(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    HIPT_CHECK(y[i] >= 0 && y[i] < K, "nll_survival_loss: bin {} of sample {} is outside [0, {})", y[i], i, K);
    y_next[i] = y[i] + 1;
  }
  const DType dt = hazards.dtype();
  const Device dev = hazards.device();
  Tensor y_idx = ops::from_vector(y, {B, 1}).to(dev), y1_idx = ops::from_vector(y_next, {B, 1}).to(dev);
  Tensor c = reshape(ops::cast(censored, dt), {B, 1});
  Tensor s_pad = cat({ops::ones({B, 1}, dt, dev), survival}, 1);  // S(-1) = 1: everyone is alive before bin 0
  Tensor floor = ops::full({}, eps, dt, dev);
  auto log_clamped = [&](const Tensor& t) { return log(maximum(t, floor)); };
  Tensor one = ops::full({}, 1.0, dt, dev);
  Tensor uncensored = mul(neg(sub(one, c)), add(log_clamped(gather(s_pad, 1, y_idx)), log_clamped(gather(hazards, 1, y_idx))));
  Tensor censored_term = mul(neg(c), log_clamped(gather(s_pad, 1, y1_idx)));
  Tensor loss = add(mul(add(censored_term, uncensored), 1.0 - alpha), mul(uncensored, alpha));
  return mean(loss);
}

}  // namespace hipt
