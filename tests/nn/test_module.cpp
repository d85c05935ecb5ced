// Module machinery: dotted names, registration checks, train/eval, parameter counts, state_dict
// round trips, strict loading that names every bad key, Linear shapes and initialization, and the
// torch parameter names of the attention and Transformer layers.
#include <gtest/gtest.h>

#include <cmath>

#include "cformer/cformer.h"
#include "cformer/io.h"
#include "cformer/nn.h"
#include "support/expect_close.h"

namespace cf::nn {
namespace {

std::vector<std::string> names_of(const StateDict& sd) {
  std::vector<std::string> out;
  for (const auto& nt : sd) out.push_back(nt.first);
  return out;
}

/// A two-level model: h.0, h.1 blocks in a ModuleList plus a head, like GPT-2's layout.
struct Block : Module {
  explicit Block(Generator& gen) : Module("Block") {
    c_attn = register_module("c_attn", std::make_shared<Linear>(4, 12, true, gen));
    c_proj = register_module("c_proj", std::make_shared<Linear>(4, 4, false, gen));
    register_buffer("counter", zeros(Shape{2}, DType::i64));
    register_buffer("scratch", zeros(Shape{3}), false);
  }
  std::shared_ptr<Linear> c_attn, c_proj;
};

struct Model : Module {
  explicit Model(Generator& gen) : Module("Model") {
    scale = register_parameter("scale", ones(Shape{4}));
    h = register_module("h", std::make_shared<ModuleList>());
    h->push_back(std::make_shared<Block>(gen));
    h->push_back(std::make_shared<Block>(gen));
    head = register_module("head", std::make_shared<Linear>(4, 3, true, gen));
  }
  Tensor scale;
  std::shared_ptr<ModuleList> h;
  std::shared_ptr<Linear> head;
};

TEST(Module, DottedNamesInTorchOrder) {
  Generator gen(1);
  Model m(gen);
  EXPECT_EQ(names_of(m.named_parameters()),
            (std::vector<std::string>{"scale", "h.0.c_attn.weight", "h.0.c_attn.bias",
                                      "h.0.c_proj.weight", "h.1.c_attn.weight", "h.1.c_attn.bias",
                                      "h.1.c_proj.weight", "head.weight", "head.bias"}));
  EXPECT_EQ(names_of(m.named_buffers()),
            (std::vector<std::string>{"h.0.counter", "h.0.scratch", "h.1.counter", "h.1.scratch"}));
  // state_dict: own parameters, own persistent buffers, then children (torch's order).
  EXPECT_EQ(names_of(m.state_dict()),
            (std::vector<std::string>{"scale", "h.0.counter", "h.0.c_attn.weight",
                                      "h.0.c_attn.bias", "h.0.c_proj.weight", "h.1.counter",
                                      "h.1.c_attn.weight", "h.1.c_attn.bias", "h.1.c_proj.weight",
                                      "head.weight", "head.bias"}));
  std::vector<std::string> mods;
  for (auto& [n, mod] : m.named_modules()) mods.push_back(n + ":" + mod->type_name());
  EXPECT_EQ(mods,
            (std::vector<std::string>{":Model", "h:ModuleList", "h.0:Block", "h.0.c_attn:Linear",
                                      "h.0.c_proj:Linear", "h.1:Block", "h.1.c_attn:Linear",
                                      "h.1.c_proj:Linear", "head:Linear"}));
  for (const Tensor& p : m.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(m.h->at<Block>(1)->c_attn->out_features, 12);
  EXPECT_THROW(m.h->at<Linear>(0), ValueError);
  EXPECT_THROW((*m.h)[2], IndexError);
}

TEST(Module, ParameterCountsAndSummary) {
  Generator gen(1);
  Model m(gen);
  const int64_t block = 4 * 12 + 12 + 4 * 4;
  EXPECT_EQ(m.num_parameters(), 4 + 2 * block + 4 * 3 + 3);
  m.scale.requires_grad_(false);
  EXPECT_EQ(m.num_parameters(true), 2 * block + 4 * 3 + 3);
  const std::string s = m.summary();
  EXPECT_NE(s.find("h: ModuleList()  params=" + std::to_string(2 * block)), std::string::npos) << s;
  EXPECT_NE(s.find("c_attn: Linear(in_features=4, out_features=12, bias=true)  params=60"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("total parameters: 171"), std::string::npos) << s;
}

TEST(Module, SharedParameterCountedOnce) {
  Module reg("Reg");
  Tensor w = ones(Shape{3, 3});
  reg.register_parameter("a", w);
  reg.register_parameter("b", w);
  EXPECT_EQ(reg.num_parameters(), 9);
  EXPECT_EQ(reg.named_parameters().size(), 1u);
  EXPECT_EQ(reg.state_dict().size(), 2u);  // state_dict keeps both names, as torch
}

TEST(Module, WeightTyingByAssignment) {
  Generator gen(2);
  struct Tied : Module {
    explicit Tied(Generator& g) : Module("Tied") {
      wte = register_module("wte", std::make_shared<Embedding>(10, 4, g));
      lm_head = register_module("lm_head", std::make_shared<Linear>(4, 10, false, g));
      lm_head->weight = wte->weight;  // as GPT-2: lm_head.weight is transformer.wte.weight
    }
    std::shared_ptr<Embedding> wte;
    std::shared_ptr<Linear> lm_head;
  } t(gen);
  EXPECT_EQ(t.lm_head->weight.impl(), t.wte->weight.impl());
  EXPECT_EQ(names_of(t.named_parameters()), (std::vector<std::string>{"wte.weight"}));
  EXPECT_EQ(names_of(t.state_dict()), (std::vector<std::string>{"wte.weight", "lm_head.weight"}));
  EXPECT_EQ(t.num_parameters(), 40);
  // Both uses contribute to the one gradient.
  Tensor h = ones(Shape{2, 4});
  sum(t.lm_head->forward(h)).backward();
  EXPECT_CLOSE(t.wte->weight.grad(), full(Shape{10, 4}, 2.0), 0, 0);
  // Loading writes through either name into the shared tensor.
  t.load_state_dict({{"wte.weight", zeros(Shape{10, 4})}, {"lm_head.weight", zeros(Shape{10, 4})}});
  EXPECT_CLOSE(t.lm_head->weight, zeros(Shape{10, 4}), 0, 0);
}

TEST(Module, UndefinedParameterReservesTheName) {
  Generator gen(3);
  Linear l(3, 2, false, gen);
  EXPECT_FALSE(l.bias.defined());
  EXPECT_EQ(names_of(l.state_dict()), (std::vector<std::string>{"weight"}));
  EXPECT_THROW(l.register_parameter("bias", zeros(Shape{2})), ValueError);
  l.bias = zeros(Shape{2}).requires_grad_();  // assigning the member adds the parameter
  EXPECT_EQ(names_of(l.state_dict()), (std::vector<std::string>{"weight", "bias"}));
}

TEST(Module, RegistrationChecks) {
  Module m("M");
  m.register_parameter("w", zeros(Shape{2}));
  EXPECT_THROW(m.register_parameter("w", zeros(Shape{2})), ValueError);
  EXPECT_THROW(m.register_buffer("w", zeros(Shape{2})), ValueError);
  EXPECT_THROW(m.register_parameter("a.b", zeros(Shape{2})), ValueError);
  EXPECT_THROW(m.register_parameter("", zeros(Shape{2})), ValueError);
  EXPECT_THROW(m.add_module("x", nullptr), ValueError);
  Tensor undefined = m.register_parameter("none", Tensor());
  EXPECT_FALSE(undefined.defined());
  EXPECT_EQ(m.named_parameters().size(), 1u);
}

TEST(Module, TrainEvalPropagates) {
  Generator gen(3);
  Model m(gen);
  auto seq = std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
      std::make_shared<Linear>(2, 2, true, gen), std::make_shared<Dropout>(0.5, &gen)});
  m.register_module("seq", seq);
  m.eval();
  for (auto& [n, mod] : m.named_modules()) EXPECT_FALSE(mod->is_training()) << n;
  // Dropout in eval is the identity (no dropout op runs).
  Tensor x = from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
  Tensor y = (*seq)[1]->forward(x);
  EXPECT_EQ(y.impl(), x.impl());
  m.train();
  for (auto& [n, mod] : m.named_modules()) EXPECT_TRUE(mod->is_training()) << n;
  seq->eval();
  EXPECT_TRUE(m.is_training());
  EXPECT_FALSE((*seq)[1]->is_training());
}

TEST(Module, StateDictRoundTrip) {
  Generator g1(10), g2(20);
  Model a(g1), b(g2);
  EXPECT_FALSE(cf::testing::all_close(a.head->weight, b.head->weight, 0, 0));
  StateDict sd = a.state_dict();
  // state_dict shares storage: make an independent copy, as a file load would.
  StateDict copy;
  for (auto& [n, t] : sd) copy.emplace_back(n, t.clone());
  const Tensor b_head = b.head->weight;
  LoadResult r = b.load_state_dict(copy);
  EXPECT_TRUE(r.missing_keys.empty());
  EXPECT_TRUE(r.unexpected_keys.empty());
  for (size_t i = 0; i < sd.size(); ++i) {
    SCOPED_TRACE(sd[i].first);
    EXPECT_CLOSE(b.state_dict()[i].second.to(DType::f64), sd[i].second.to(DType::f64), 0, 0);
  }
  // Copied in place: handles held before the load see the values, and stay leaves.
  EXPECT_EQ(b.head->weight.impl(), b_head.impl());
  EXPECT_TRUE(b.head->weight.requires_grad());
  EXPECT_TRUE(b.head->weight.is_leaf());
  // Through a safetensors file image.
  Model c(g2);
  io::NamedTensors nt = io::parse_safetensors(io::serialize_safetensors(a.state_dict()), "mem");
  c.load_state_dict(nt.tensors);
  EXPECT_CLOSE(c.h->at<Block>(1)->c_attn->bias, a.h->at<Block>(1)->c_attn->bias, 0, 0);
}

TEST(Module, StrictLoadListsEveryBadKey) {
  Generator gen(4);
  Model m(gen);
  StateDict sd;
  for (auto& [n, t] : m.state_dict()) {
    if (n == "h.1.c_proj.weight" || n == "head.bias") continue;  // missing
    if (n == "h.0.c_attn.weight") {
      sd.emplace_back(n, zeros(Shape{12, 5}));  // wrong shape
    } else if (n == "scale") {
      sd.emplace_back(n, zeros(Shape{4}, DType::f64));  // wrong dtype
    } else {
      sd.emplace_back(n, t.clone());
    }
  }
  sd.emplace_back("h.2.c_attn.weight", zeros(Shape{1}));  // unexpected
  sd.emplace_back("lm_head.weight", zeros(Shape{1}));
  const Tensor before = m.head->weight.clone();
  try {
    m.load_state_dict(sd);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("6 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key: h.1.c_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key: head.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key: h.2.c_attn.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key: lm_head.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape mismatch for h.0.c_attn.weight: expected (12, 4), got (12, 5)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("dtype mismatch for scale: expected f32, got f64"), std::string::npos)
        << msg;
  }
  // Nothing was copied.
  EXPECT_CLOSE(m.head->weight, before, 0, 0);
}

TEST(Module, NonStrictLoadReportsKeysButStillChecksShapes) {
  Generator gen(5);
  Model m(gen);
  StateDict sd{{"head.weight", full(Shape{3, 4}, 2.0)}, {"extra", zeros(Shape{1})}};
  LoadResult r = m.load_state_dict(sd, false);
  EXPECT_EQ(r.unexpected_keys, (std::vector<std::string>{"extra"}));
  EXPECT_EQ(r.missing_keys.size(), m.state_dict().size() - 1);
  EXPECT_CLOSE(m.head->weight, full(Shape{3, 4}, 2.0), 0, 0);
  StateDict bad{{"head.weight", zeros(Shape{4, 3})}};
  EXPECT_THROW(m.load_state_dict(bad, false), ValueError);
  StateDict dup{{"head.bias", zeros(Shape{3})}, {"head.bias", zeros(Shape{3})}};
  EXPECT_THROW(m.load_state_dict(dup, false), ValueError);
}

TEST(Module, ZeroGrad) {
  Generator gen(6);
  Linear l(3, 2, true, gen);
  Tensor y = sum(l.forward(ones(Shape{4, 3})));
  y.backward();
  ASSERT_TRUE(l.weight.grad().defined());
  l.zero_grad(false);
  EXPECT_CLOSE(l.weight.grad(), zeros(Shape{2, 3}), 0, 0);
  l.zero_grad();
  EXPECT_FALSE(l.weight.grad().defined());
  EXPECT_FALSE(l.bias.grad().defined());
}

TEST(Linear, ForwardShapesAndBackward) {
  Generator gen(7);
  Linear l(5, 3, true, gen);
  Tensor x = randn(Shape{2, 4, 5}, gen);
  Tensor y = l.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 3}));
  EXPECT_CLOSE(y, add(matmul(x, l.weight.t()), l.bias), 1e-6, 1e-5);
  Linear nb(5, 3, false, gen);
  EXPECT_FALSE(nb.bias.defined());
  EXPECT_EQ(nb.named_parameters().size(), 1u);
  try {
    l.forward(randn(Shape{2, 6}, gen));
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("Linear: input must have last dim 5, got shape (2, 6)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Linear(-1, 3, true, gen), ValueError);
  EXPECT_THROW(Linear(2, 3, true, gen, DType::i64), DTypeError);
}

TEST(Linear, TorchDefaultInitBounds) {
  Generator gen(8);
  Linear l(64, 200, true, gen);
  const double bound = 1.0 / 8.0;
  auto w = l.weight.to_vector<float>();
  double mx = 0, sq = 0;
  for (float v : w) {
    mx = std::max(mx, std::fabs(static_cast<double>(v)));
    sq += static_cast<double>(v) * v;
  }
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.95 * bound);
  // uniform(-b, b) has variance b^2 / 3
  EXPECT_NEAR(sq / w.size(), bound * bound / 3.0, 0.1 * bound * bound / 3.0);
  for (float v : l.bias.to_vector<float>()) EXPECT_LE(std::fabs(v), bound);
}

TEST(Embedding, InitAndPadding) {
  Generator gen(9);
  Embedding e(50, 8, gen, -1);
  ASSERT_TRUE(e.padding_idx.has_value());
  EXPECT_EQ(*e.padding_idx, 49);
  EXPECT_CLOSE(e.weight.select(0, 49), zeros(Shape{8}), 0, 0);
  auto w = e.weight.narrow(0, 0, 49).contiguous().to_vector<float>();
  double sq = 0;
  for (float v : w) sq += static_cast<double>(v) * v;
  EXPECT_NEAR(sq / w.size(), 1.0, 0.2);  // normal(0, 1)
  EXPECT_THROW(Embedding(5, 2, gen, 5), ValueError);
  EXPECT_THROW(Embedding(5, 2, gen, -6), ValueError);
}

TEST(Layers, ConstructorChecks) {
  Generator gen(11);
  EXPECT_THROW(Dropout(1.5, &gen), ValueError);
  EXPECT_THROW(Dropout(0.1, nullptr), ValueError);
  EXPECT_NO_THROW(Dropout(0.0, nullptr));
  EXPECT_THROW(LayerNorm(Shape{}), ValueError);
  EXPECT_THROW(LayerNorm(Shape{0}), ValueError);
  EXPECT_THROW(MultiheadAttention(10, 3, gen), ValueError);
  MultiheadAttentionOptions o;
  o.dropout = 0.1;
  EXPECT_THROW(MultiheadAttention(8, 2, gen, o), ValueError);
  EXPECT_THROW(parse_activation("tanhh"), ValueError);
  EXPECT_EQ(parse_activation("gelu_new"), Activation::gelu_tanh);
  EXPECT_EQ(parse_activation("swish"), Activation::silu);
}

TEST(Sequential, ChainsAndNames) {
  Generator gen(12);
  Sequential s;
  s.push_back(std::make_shared<Linear>(3, 4, true, gen));
  s.push_back(std::make_shared<Linear>(4, 2, false, gen));
  EXPECT_EQ(names_of(s.state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "1.weight"}));
  Tensor x = randn(Shape{5, 3}, gen);
  auto l0 = std::dynamic_pointer_cast<Linear>(s[0]);
  auto l1 = std::dynamic_pointer_cast<Linear>(s[1]);
  EXPECT_CLOSE(s(x), linear(linear(x, l0->weight, l0->bias), l1->weight), 0, 0);
  EXPECT_THROW(s[2], IndexError);
}

TEST(Attention, TorchParameterNamesAndShapes) {
  Generator gen(13);
  MultiheadAttention mha(8, 2, gen);
  StateDict sd = mha.state_dict();
  ASSERT_EQ(names_of(sd), (std::vector<std::string>{"in_proj_weight", "in_proj_bias",
                                                    "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(sd[0].second.shape(), (Shape{24, 8}));
  EXPECT_EQ(sd[1].second.shape(), (Shape{24}));
  EXPECT_CLOSE(mha.in_proj_bias, zeros(Shape{24}), 0, 0);
  EXPECT_CLOSE(mha.out_proj->bias, zeros(Shape{8}), 0, 0);
  MultiheadAttentionOptions o;
  o.kdim = 5;
  o.vdim = 3;
  o.bias = false;
  MultiheadAttention cross(8, 4, gen, o);
  sd = cross.state_dict();
  ASSERT_EQ(names_of(sd), (std::vector<std::string>{"q_proj_weight", "k_proj_weight",
                                                    "v_proj_weight", "out_proj.weight"}));
  EXPECT_EQ(sd[1].second.shape(), (Shape{8, 5}));
  EXPECT_EQ(sd[2].second.shape(), (Shape{8, 3}));
}

TEST(Attention, ShapeChecksNameTheArgument) {
  Generator gen(14);
  MultiheadAttention mha(8, 2, gen);
  Tensor q = randn(Shape{3, 2, 8}, gen), kv = randn(Shape{5, 2, 8}, gen);
  auto expect_msg = [](auto&& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "no error, expected: " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(randn(Shape{3, 2, 7}, gen), kv, kv);
      },
      "query must have last dim 8");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, randn(Shape{5, 3, 8}, gen), randn(Shape{5, 3, 8}, gen));
      },
      "key and value must have the query's batch size 2");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, kv, randn(Shape{4, 2, 8}, gen));
      },
      "same sequence length");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, kv, kv, zeros(Shape{2, 4}, DType::b8));
      },
      "key_padding_mask must have shape (2, 5), got (2, 4)");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, kv, kv, {}, true, zeros(Shape{3, 4}, DType::b8));
      },
      "attn_mask must have shape (3, 5) or (4, 3, 5), got (3, 4)");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, kv, kv, zeros(Shape{2, 5}, DType::i64));
      },
      "key_padding_mask must be bool or f32");
  expect_msg(
      [&mha, &q, &kv, &gen] {
        mha.forward(q, randn(Shape{5, 8}, gen), kv);
      },
      "must all be 3-D");
}

TEST(Transformer, TorchParameterNames) {
  Generator gen(15);
  TransformerLayerOptions o;
  o.dim_feedforward = 16;
  o.dropout = 0.0;
  TransformerEncoderLayer enc(8, 2, gen, o);
  EXPECT_EQ(names_of(enc.state_dict()),
            (std::vector<std::string>{
                "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"}));
  EXPECT_EQ(enc.num_parameters(), 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8 + 16 * 8 + 16 + 8 * 16 + 8 + 4 * 8);
  TransformerDecoderLayer dec(8, 2, gen, o);
  std::vector<std::string> want{"self_attn.in_proj_weight",
                                "self_attn.in_proj_bias",
                                "self_attn.out_proj.weight",
                                "self_attn.out_proj.bias",
                                "multihead_attn.in_proj_weight",
                                "multihead_attn.in_proj_bias",
                                "multihead_attn.out_proj.weight",
                                "multihead_attn.out_proj.bias",
                                "linear1.weight",
                                "linear1.bias",
                                "linear2.weight",
                                "linear2.bias",
                                "norm1.weight",
                                "norm1.bias",
                                "norm2.weight",
                                "norm2.bias",
                                "norm3.weight",
                                "norm3.bias"};
  EXPECT_EQ(names_of(dec.state_dict()), want);
  o.dropout = 0.1;
  EXPECT_THROW(TransformerEncoderLayer(8, 2, gen, o), ValueError);  // dropout needs a generator
}

TEST(PositionalEncoding, SinusoidFormulaAndNonPersistentBuffer) {
  SinusoidalPositionalEncoding pe(6, 10);
  EXPECT_TRUE(pe.state_dict().empty());
  ASSERT_EQ(pe.named_buffers().size(), 1u);
  auto v = pe.pe.to_vector<float>();
  for (int t : {0, 3, 9})
    for (int i = 0; i < 6; ++i) {
      const double a = t / std::pow(10000.0, (i - i % 2) / 6.0);
      EXPECT_NEAR(v[t * 6 + i], i % 2 ? std::cos(a) : std::sin(a), 1e-6) << t << " " << i;
    }
  Tensor x = zeros(Shape{4, 2, 6});  // (T, N, E)
  Tensor y = pe.forward(x, 3);
  EXPECT_CLOSE(y.select(1, 1), pe.pe.narrow(0, 3, 4), 0, 0);
  EXPECT_THROW(pe.forward(x, 7), ShapeError);
  EXPECT_THROW(pe.forward(zeros(Shape{4, 2, 5})), ShapeError);
  SinusoidalPositionalEncoding bf(6, 10, true);
  EXPECT_CLOSE(bf.forward(zeros(Shape{2, 4, 6})).select(0, 1), bf.pe.narrow(0, 0, 4), 0, 0);
}

TEST(PositionalEncoding, LearnedGetsGradients) {
  Generator gen(16);
  LearnedPositionalEncoding pe(10, 4, gen, true);
  EXPECT_EQ(names_of(pe.state_dict()), (std::vector<std::string>{"weight"}));
  Tensor y = sum(pe.forward(ones(Shape{3, 5, 4}), 2));
  y.backward();
  auto g = pe.weight.grad().to_vector<float>();
  for (int t = 0; t < 10; ++t)
    for (int e = 0; e < 4; ++e) EXPECT_EQ(g[t * 4 + e], t >= 2 && t < 7 ? 3.0f : 0.0f) << t;
}

}  // namespace
}  // namespace cf::nn
