from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from protok.bench import adapters as A
from protok.bench.item import BenchItem
from protok.bench.sources import promod3_item
from protok.bench.tasks.robustness import perturbations
from protok.cli.main import cli
from protok.errors import ConfigError, TokenizerNotApplicableError
from protok.structures import read_structure
from protok.tokenizer import featurize, read_records

REPO = Path(__file__).resolve().parents[2]
STRUCTURES = REPO / "structures"
#: Committed files with several chains, chain breaks and missing atoms.
TOKENIZE_FILES = ("1ubi.pdb", "2xhe.pdb.gz", "1a8o.cif", "3jqh.bcif.gz")


@pytest.fixture(scope="module")
def item(promod3):
    return promod3_item(promod3, "16PK_A")


@pytest.fixture(scope="module")
def k8_checkpoint(tmp_path_factory) -> Path:
    """configs/tiny.toml's model (encoder k = 8), codebook seeded from real residues so tokens vary."""
    from protok.tokenizer.testing import make_test_model
    from protok.training.config import load_config

    config = load_config(REPO / "configs" / "tiny.toml").model
    assert config.encoder.k == 8
    chains = list(read_structure(STRUCTURES / "1ubi.pdb").chains)
    return make_test_model(tmp_path_factory.mktemp("k8") / "tiny-k8", chains, config=config, seed=0)


@pytest.mark.parametrize(
    "cls", [A.AminoAcidAdapter, A.DSSPAdapter, A.ThreeDiAdapter, A.RandomCodebookAdapter]
)
def test_builtin_adapters_contract(cls, item):
    ad = cls()
    assert isinstance(ad, A.TokenizerAdapter)
    t = ad.encode(item)
    assert t.shape == (len(item),) and t.dtype == np.int64
    assert t.min() >= -1 and t.max() < ad.codebook_size
    assert ad.code_vectors().shape[0] == ad.codebook_size
    assert ad.probe_vectors().shape[0] == ad.codebook_size
    assert len(np.unique(t[t >= 0])) > 3  # a real chain uses several states


def test_dssp_adapter_reads_labels_and_refuses_perturbed(item):
    ad = A.DSSPAdapter()
    t = ad.encode(item)
    assert "".join(A.DSSP_STATES[i] for i in t) == "".join(item.annotations["dssp"])
    with pytest.raises(TokenizerNotApplicableError):
        ad.encode(item.perturbed(item.chain.coords))


@pytest.mark.parametrize("cls", [A.ThreeDiAdapter, A.RandomCodebookAdapter])
def test_geometric_adapters_invariant_to_rigid_motion_and_see_mirror(cls, item):
    ad = cls()
    ref = ad.encode(item)
    p = perturbations(item.chain.coords, [0.5], seed=1)
    rigid = ad.encode(item.perturbed(p["rigid"]))
    mirror = ad.encode(item.perturbed(p["mirror"]))
    noisy = ad.encode(item.perturbed(p["noise_0.5"]))
    assert (rigid != ref).mean() < 0.01  # float round-off may flip a near-tie, never more
    assert (mirror != ref).mean() > 0.1
    assert (noisy != ref).mean() > 0.1


def test_threedi_matches_biotite_to_3di(data_dir):
    import gzip
    import io

    import biotite.structure.io.pdb as pdb
    from biotite.structure.alphabet import to_3di

    from protok.bench.sources import SHIPPED_FLEX, read_bfactor_chains

    f = SHIPPED_FLEX / "ldh" / "1a5z_A.pdb.gz"  # a full-atom file shipped for the flexibility task
    items = read_bfactor_chains([f])
    with gzip.open(f, "rt") as fh:
        atoms = pdb.PDBFile.read(io.StringIO(fh.read())).get_structure(model=1)
    atoms = atoms[(atoms.chain_id == items[0].chain.auth_chain_id) & ~atoms.hetero]
    ref = str(to_3di(atoms)[0][0]).upper()
    ours = A.ThreeDiAdapter().encode(items[0])
    letters = "ACDEFGHIKLMNPQRSTVWY"
    got = "".join(letters[i] if i >= 0 else "D" for i in ours)
    # biotite's to_3di uses the real CB where present; we use the ideal virtual CB: nearly identical
    assert len(got) == len(ref)
    assert np.mean([a == b for a, b in zip(got, ref)]) > 0.9


def test_specs_and_registry(tmp_path):
    specs = A.parse_tokenizer_specs("provq=ckpt/a, vq=ckpt/b,3di,dssp,random,aa")
    assert specs[0] == ("provq", "protok", "ckpt/a") and specs[2] == ("3di", "3di", None)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        A.parse_tokenizer_specs("nope")
    with pytest.raises(ConfigError, match="unique"):
        A.parse_tokenizer_specs("aa,aa")

    class Constant(A.AminoAcidAdapter):
        def encode(self, item: BenchItem) -> np.ndarray:
            return np.zeros(len(item), np.int64)

    A.register_adapter("const", lambda name="const", path=None: Constant(name))
    try:
        ad = A.build_adapter(*A.parse_tokenizer_specs("const")[0])
        assert ad.name == "const"
    finally:
        A._REGISTRY.pop("const")
    from protok.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):
        A.build_adapter("provq", "protok", str(tmp_path / "missing"))


def test_bench_tokens_equal_protok_tokenize_for_a_k8_checkpoint(k8_checkpoint, tmp_path):
    files = [STRUCTURES / f for f in TOKENIZE_FILES]
    out = tmp_path / "tokens.jsonl"
    args = ["tokenize", *map(str, files), "-o", str(out), "--model", str(k8_checkpoint), "--no-progress"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    by_chain = {(r["id"], r["chain"]): np.asarray(r["tokens"]) for r in read_records(out)}

    ad = A.build_adapter("k8", "protok", str(k8_checkpoint))
    assert ad.tokenizer.k_neighbours == 8
    chains = [c for f in files for c in read_structure(f).chains]
    items = [BenchItem(f"{c.source}:{c.auth_chain_id}", c) for c in chains]
    bench = ad.encode_batch(items)
    assert len(by_chain) == len(chains) > len(files)
    cli_tokens = [by_chain[(Path(c.source).name.split(".")[0], c.auth_chain_id)] for c in chains]
    missing = ad.tokenizer.vocab.missing
    for tokens, expected in zip(bench, cli_tokens):
        np.testing.assert_array_equal(np.where(tokens >= 0, tokens, missing), expected)
    # the neighbour count matters: a 16-neighbour graph of the same chains gives other tokens
    k16 = ad.tokenizer.encode_featurized([featurize(c, 16) for c in chains])
    assert any((a.tokens != b).any() for a, b in zip(k16, cli_tokens))


def test_protok_adapter_on_random_checkpoint(random_checkpoint, promod3):
    ad = A.ProtokAdapter(random_checkpoint, "rand")
    items = [promod3_item(promod3, c) for c in ("16PK_A", str(promod3.ids[1]))]
    batch = ad.encode_batch(items)
    single = ad.encode(items[0])
    assert [len(t) for t in batch] == [len(i) for i in items]
    np.testing.assert_array_equal(batch[0], single)
    assert ad.code_vectors().shape == (ad.codebook_size, ad.code_vectors().shape[1])
    p = perturbations(items[0].chain.coords, [0.01], seed=3)
    assert (ad.encode(items[0].perturbed(p["rigid"])) == single).mean() > 0.99
    xyz = ad.decode(single, items[0])
    assert xyz.shape == (len(items[0]), 4, 3) and np.isfinite(xyz).all()


def test_registered_model_names_work_as_bench_tokenizers():
    """A registered name works in --tokenizers as in `protok tokenize --model`: alone or as NAME=MODEL."""
    from protok.models.registry import DEFAULT_MODEL, model_folder

    specs = A.parse_tokenizer_specs(f"provq={DEFAULT_MODEL},{DEFAULT_MODEL},aa")
    assert specs == [
        ("provq", "protok", DEFAULT_MODEL),
        (DEFAULT_MODEL, "protok", DEFAULT_MODEL),
        ("aa", "aa", None),
    ]
    by_name = A.build_adapter(*specs[0])
    by_folder = A.ProtokAdapter(model_folder(DEFAULT_MODEL), "folder")
    assert by_name.name == "provq" and by_name.codebook_size == 512
    assert by_name.fingerprint() == by_folder.fingerprint()  # the same model, the same cached tokens
    np.testing.assert_array_equal(by_name.code_vectors(), by_folder.code_vectors())


def test_default_tokenizers_are_the_shipped_model_and_the_baselines():
    from protok.models.registry import DEFAULT_MODEL

    names = [name for name, _, _ in A.parse_tokenizer_specs(A.default_tokenizers())]
    assert names == [DEFAULT_MODEL, "3di", "dssp", "random", "aa"]
