"""Word embeddings: tokenisation, the fused skip-gram step, lookups, t-SNE, the shipped vectors and their scores."""
import numpy as np
import pytest
import torch

from models import embeddings as E
from models import tsne
from tests.conftest import require


def test_tokenize_is_lower_case_letter_runs():
    assert E.tokenize("Don't STOP, King!  café 42") == ["don", "t", "stop", "king", "caf"]
    assert E.tokenize("") == [] and E.tokenize("  123 ?! ") == []


def test_keep_probabilities_drop_only_frequent_words():
    counts = np.array([1_000_000, 10_000, 100, 5])
    keep = E.keep_probabilities(counts, 1e-4)
    assert keep[0] < 0.02 and keep[1] < 0.2 and keep[2] == keep[3] == 1.0
    assert np.all(np.diff(keep) >= 0)


def _toy_step_inputs(seed=0):
    torch.manual_seed(seed)
    cfg = E.Config(vocab_size=40, dim=8, window=3, negatives=5, block=8, shared_negatives=4)
    model = E.SkipGram(cfg)
    with torch.no_grad():
        model.emb_in.weight.normal_(0, 0.5)
        model.emb_out.weight.normal_(0, 0.5)
    B, L = 3, cfg.block
    tokens = torch.randint(1, cfg.vocab_size, (B * L,))
    sentences = torch.zeros(B * L, dtype=torch.long)
    sentences[10:] = 1  # a sentence boundary inside block 1: no pair may cross it
    windows = torch.randint(1, cfg.window + 1, (B * L,))
    negatives = torch.randint(0, cfg.vocab_size, (B * cfg.shared_negatives,))
    return cfg, model, tokens, sentences, windows, negatives


def test_fused_step_is_exact_sgd_on_the_skip_gram_loss():
    """The banded, block-shared computation gives the same update as the loss written pair by pair."""
    cfg, model, tokens, sentences, windows, negatives = _toy_step_inputs()
    ein = model.emb_in.weight.detach().double().clone().requires_grad_()
    eout = model.emb_out.weight.detach().double().clone().requires_grad_()
    L, N, K = cfg.block, cfg.shared_negatives, cfg.negatives
    loss = 0
    for q in range(len(tokens)):
        block = q // L
        for p in range(q - int(windows[q]), q + int(windows[q]) + 1):
            if p == q or p < 0 or p >= len(tokens) or sentences[p] != sentences[q]:
                continue
            loss = loss - torch.nn.functional.logsigmoid(ein[tokens[q]] @ eout[tokens[p]])
            for n in negatives[block * N : (block + 1) * N]:  # K negatives per pair, estimated by the block's N
                loss = loss - K / N * torch.nn.functional.logsigmoid(-ein[tokens[q]] @ eout[n])
    loss.backward()
    lr = 0.1
    before_in, before_out = model.emb_in.weight.detach().double().clone(), model.emb_out.weight.detach().double().clone()
    model.step(tokens, sentences, windows, negatives, lr)
    for after, before, grad in ((model.emb_in.weight, before_in, ein.grad), (model.emb_out.weight, before_out, eout.grad)):
        update, expected = after.detach().double() - before, -lr * grad
        assert expected.abs().max() > 0.5  # a real step...
        # ...equal to the pairwise loss's SGD step up to bf16 rounding of the products (~0.4 %)
        assert (update - expected).abs().max() <= 0.01 * expected.abs().max()


def test_rows_never_grow_past_max_norm():
    cfg, model, tokens, sentences, windows, negatives = _toy_step_inputs()
    model.cfg.max_norm = 1.5
    model.step(tokens, sentences, windows, negatives, 5.0)  # a huge step
    touched = torch.cat([tokens, negatives]).unique()
    assert model.emb_out.weight[touched].norm(dim=1).max() <= 1.5 + 1e-5
    assert model.emb_in.weight[tokens.unique()].norm(dim=1).max() <= 1.5 + 1e-5


def test_training_pulls_co_occurring_words_together():
    """Two "topics" of 10 words each, sentences drawn from one topic: after training, words of the
    same topic are more similar than words of different topics."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    cfg = E.Config(vocab_size=20, dim=16, window=4, block=64, shared_negatives=16)
    model = E.SkipGram(cfg)
    sent = rng.integers(0, 2, 400)
    tokens = torch.from_numpy(sent.repeat(16) * 10 + rng.integers(0, 10, 400 * 16))
    sentences = torch.from_numpy(np.arange(400).repeat(16))
    for epoch in range(10):
        for lo in range(0, len(tokens) - 512 + 1, 512):
            windows = torch.randint(1, cfg.window + 1, (512,))
            negatives = torch.randint(0, 20, (8 * 16,))
            # a small rate: with 20 words, each row sums hundreds of pair gradients per step
            model.step(tokens[lo : lo + 512], sentences[lo : lo + 512], windows, negatives, 0.002)
    emb = E.Embeddings([f"w{i}" for i in range(20)], model.emb_in.weight.detach().numpy())
    sims = (emb.unit @ emb.unit.T).numpy()
    same = np.mean([sims[i, j] for i in range(20) for j in range(20) if i != j and i // 10 == j // 10])
    other = np.mean([sims[i, j] for i in range(20) for j in range(20) if i // 10 != j // 10])
    assert same > other + 0.5, (same, other)


@pytest.fixture
def table():
    """A hand-made table: axes base b, gender g, royalty r; man = b - g, woman = b + g, king = r - g,
    queen = r + g (all of length sqrt 2), so unit(king) - unit(man) + unit(woman) = unit(queen) exactly."""
    vocab = ["man", "woman", "king", "queen", "apple", "kingdom"]
    vectors = np.array([
        [1, -1, 0, 0],
        [1, 1, 0, 0],
        [0, -1, 1, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 1],
        [0, -1, 1.25, 0.125],  # close to king
    ], dtype=np.float32)
    return E.Embeddings(vocab, vectors)


def test_analogy_on_a_hand_made_table(table):
    answers = table.analogy("man", "king", "woman", 3)
    assert answers[0][0] == "queen"
    assert answers[0][1] == pytest.approx(1.0, abs=1e-6)  # b - a + c points exactly at queen
    assert {"man", "king", "woman"}.isdisjoint(w for w, _ in answers)
    assert table.analogy("MAN", " King", "Woman ", 1)[0][0] == "queen"  # case and spaces do not matter


def test_nearest_includes_the_word_itself_only_when_asked(table):
    assert "king" not in [w for w, _ in table.nearest("king", 5)]
    first = table.nearest("King", 5, include_self=True)[0]
    assert first[0] == "king" and first[1] == pytest.approx(1.0, abs=1e-6)
    assert table.nearest("king", 1)[0][0] == "kingdom"
    scores = [s for _, s in table.nearest("king", 5)]
    assert scores == sorted(scores, reverse=True)


def test_unknown_words_suggest_close_spellings(table):
    with pytest.raises(E.UnknownWordError) as error:
        table.nearest("kign")
    assert "king" in error.value.suggestions and "not in the vocabulary" in str(error.value)
    with pytest.raises(E.UnknownWordError) as error:
        table.analogy("man", "king", "wombat")
    assert error.value.word == "wombat"  # says which word is unknown


def test_tsne_separates_clusters_and_reports_progress():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 20))
    x = np.concatenate([c + rng.normal(0, 1, (60, 20)) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(3), 60)
    calls = []
    y = tsne.tsne(x, 3, perplexity=15, iterations=300, progress=lambda i, total: calls.append((i, total)))
    assert y.shape == (180, 3) and np.isfinite(y).all()
    assert calls[-1] == (300, 300) and len(calls) == 300
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    neighbours = np.argsort(d, 1)[:, :5]
    assert (labels[neighbours] == labels[:, None]).mean() > 0.98
    # It minimises what it should: lower KL(P||Q) than the PCA projection it starts from.
    assert tsne.kl_divergence(x, y, 15) < tsne.kl_divergence(x, tsne.pca(x, 3), 15)


def test_save_and_load_give_identical_vectors(tmp_path, table):
    from conftest import shipped_card
    from models.common import save_checkpoint

    views = {"tsne_5": torch.arange(15, dtype=torch.float32).view(5, 3)}
    meta = shipped_card(E.NAME, vocab=table.vocab, config={})
    save_checkpoint({"vectors": torch.from_numpy(table.vectors).half(), **views}, meta, E.NAME, tmp_path)
    loaded, _ = E.load(tmp_path)
    assert loaded.vocab == table.vocab
    np.testing.assert_array_equal(loaded.vectors, table.vectors)  # these values are exact in fp16
    np.testing.assert_array_equal(loaded.views["tsne_5"], views["tsne_5"].numpy())
    assert loaded.nearest("king", 3) == table.nearest("king", 3)


def test_int8_storage_round_trips_and_barely_moves_cosines(tmp_path, table):
    """Vectors stored as int8 with one scale per vector: the loaded vectors are quantize's rounding of the
    trained ones, no cosine moves by more than 0.01 (the issue's bound), and save -> load is exact."""
    from conftest import shipped_card
    from models.common import save_checkpoint

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 300)).astype(np.float32) * rng.uniform(0.1, 5, (2000, 1)).astype(np.float32)
    q, scales = E.quantize(vectors)
    assert q.dtype == np.int8 and scales.shape == (2000,) and np.abs(q).max() == 127
    exact, rounded = E.Embeddings([f"w{i}" for i in range(2000)], vectors), E.Embeddings([f"w{i}" for i in range(2000)], E.dequantize(q, scales))
    change = (exact.unit @ exact.unit.T - rounded.unit @ rounded.unit.T).abs().max().item()
    assert change <= 0.01, change
    meta = shipped_card(E.NAME, vocab=rounded.vocab, config={})
    save_checkpoint({"vectors_int8": torch.from_numpy(q), "scales": torch.from_numpy(scales)}, meta, E.NAME, tmp_path)
    loaded, _ = E.load(tmp_path)
    np.testing.assert_array_equal(loaded.vectors, rounded.vectors)


@pytest.fixture(scope="module")
def shipped():
    return E.load().model


def test_shipped_vectors_and_maps(shipped):
    meta = shipped.meta
    assert shipped.vectors.shape == (meta["shipped_words"], meta["config"]["dim"])
    # one (V, D) float32 table held in memory, the unit vectors: a second copy cost the server 72 MB
    tables = [a for a in vars(shipped).values() if isinstance(a, (np.ndarray, torch.Tensor)) and a.ndim == 2
              and a.shape[0] == len(shipped.vocab) and a.shape[1] > 1]
    assert len(tables) == 1 and tables[0] is shipped.unit
    np.testing.assert_allclose(np.linalg.norm(shipped.vectors, axis=1, keepdims=True), shipped.norms, rtol=1e-5)
    assert shipped.vocab[:3] == ["the", "of", "and"]
    assert shipped.precomputed_sizes() == [500, 1000, 2000, 5000]
    for n in shipped.precomputed_sizes():
        assert shipped.views[f"tsne_{n}"].shape == (n, 3)
    assert shipped.view(500, "PCA").shape == (500, 3)
    france = [w for w, _ in shipped.nearest("France", 10)]
    assert {"italy", "spain", "germany", "french", "paris", "belgium"} & set(france)


def test_shipped_scores_on_the_evaluation_sets(shipped):
    """The scores in the JSON are what the shipped vectors give, and meet the issue's targets."""
    root = require("text/eval/questions-words.txt")
    from train.embeddings import evaluate

    scores = evaluate(shipped, str(root))
    assert scores == shipped.meta["metrics"]
    rounding = shipped.meta.get("rounding")
    if rounding:  # int8 storage: the scores within 0.005 of the float32 vectors', no cosine moved by over 0.01
        for key in ("wordsim353_spearman", "analogy_accuracy"):
            assert abs(scores[key] - rounding["metrics_float32"][key]) <= 0.005, key
        assert max(v for k, v in rounding.items() if k.startswith("max_cosine_change")) <= 0.01
    assert scores["wordsim353_pairs"] >= 340  # 30,000 words covered 342 of the 353 pairs
    assert scores["wordsim353_spearman"] >= 0.69
    assert scores["analogy_accuracy"] >= 0.50


def test_training_dry_run(tmp_path):
    root = require("text/corpus/enwiki_2015_15m.txt.gz")
    from train.embeddings import TrainConfig, train

    meta = train(TrainConfig(data_dir=str(root), out_dir=str(tmp_path), dry_run=True, dim=16))
    loaded, _ = E.load(tmp_path)
    assert loaded.vectors.shape == (len(meta["vocab"]), 16)
    assert loaded.precomputed_sizes() == [50]


def test_computed_maps_are_kept_for_every_caller_and_exported_as_csv(shipped):
    assert not shipped.needs_computation(500, "t-SNE")  # precomputed at the default perplexity
    first = shipped.view(300, "PCA")
    assert shipped.view(300, "PCA") is first and not first.flags.writeable  # computed once, shared read-only
    assert shipped.needs_computation(50, "t-SNE", 5.0)
    xyz = shipped.view(50, "t-SNE", 5.0)
    assert not shipped.needs_computation(50, "t-SNE", 5.0) and shipped.view(50, "t-SNE", 5.0) is xyz
    csv = E.coordinates_csv(shipped.vocab[:3], xyz[:3], ["a", "b", "c"]).splitlines()
    assert csv[0] == "rank,word,x,y,z,group" and csv[1].startswith("1,the,") and csv[3].endswith(",c")
    for n in range(60, 60 + E.COMPUTED_VIEWS + 2):  # bounded: the oldest are dropped
        shipped.view(n, "PCA")
    assert len(shipped._computed) == E.COMPUTED_VIEWS and shipped.view(300, "PCA") is not first
