"""The public benchmark task tables: FinMTEB (English), ChemTEB and MTEB(Medical, v1).

Each row is a :class:`PublicTaskInfo`. ChemTEB and MTEB(Medical, v1) rows mirror the
installed ``mteb`` library's benchmark definitions (task list, dataset path, revision,
licence); ``tests/domains/test_public_catalog.py`` checks they still match ``mteb`` so the
import of this module stays fast (no ``mteb`` import). Their data are loaded through
``mteb``'s own task classes, so splits, subsampling and transforms equal the leaderboard's.

FinMTEB is not in ``mteb``: its rows are pinned here from the FinMTEB repository
(github.com/yixuantt/FinMTEB, ``finance_mteb/tasks/*/eng``, commit 47ee4ad), HF org
``FinanceMTEB``. ``revision_verified`` says whether the revision was read from that source;
none could be checked against the hub from this machine (no hub access).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domainteb.core.types import TaskType

#: FinMTEB's source of truth for the pinned rows below.
FINMTEB_SOURCE = "https://github.com/yixuantt/FinMTEB (finance_mteb/tasks/*/eng @ 47ee4ad)"
FINMTEB_CITATION = (
    "@misc{tang2024finmteb, title={FinMTEB: Finance Massive Text Embedding Benchmark}, "
    "author={Yixuan Tang and Yi Yang}, year={2025}, eprint={2502.10990}, archivePrefix={arXiv}}"
)


class PublicTaskInfo(BaseModel):
    """One public benchmark task: where its data live and how it is scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1
    name: str
    benchmark: Literal["finmteb", "chemteb", "mteb-medical"]
    domain: Literal["finance", "chemistry", "medical"]
    type: TaskType
    #: Hugging Face dataset id and pinned revision.
    path: str
    revision: str
    #: "mteb": loaded through the installed mteb task class; "hf": loaded by domainteb.
    loader: Literal["mteb", "hf"]
    eval_splits: list[str] = Field(default_factory=lambda: ["test"])
    main_score: str = ""
    #: the dataset's licence as its card/metadata states it, or "unknown" (never empty).
    license: str = "unknown"
    #: the dataset card to read the licence on (always set).
    license_url: str = ""
    #: where ``license`` was read from.
    license_source: str = ""
    reference: str = ""
    description: str = ""
    #: source column -> domainteb/mteb column, applied after loading ("hf" loader).
    renames: dict[str, str] = Field(default_factory=dict)
    #: type-specific parameters recorded in the task metadata (e.g. STS score range).
    params: dict[str, Any] = Field(default_factory=dict)
    revision_verified: bool = True
    note: str = ""


#: licence values that say nothing; recorded as "unknown" (with the card URL).
_NO_LICENSE = {"", "not specified", "none", "other", "unknown"}


def card_url(path: str) -> str:
    """The Hugging Face dataset card of ``path``."""
    return f"https://huggingface.co/datasets/{path}"


def _license(value: str) -> str:
    return "unknown" if value.strip().lower() in _NO_LICENSE else value.strip()


def _m(name: str, type_: str, path: str, revision: str, license_: str, benchmark: str, domain: str) -> PublicTaskInfo:
    return PublicTaskInfo(
        name=name,
        benchmark=benchmark,  # type: ignore[arg-type]
        domain=domain,  # type: ignore[arg-type]
        type=TaskType.parse(type_),
        path=path,
        revision=revision,
        loader="mteb",
        license=_license(license_),
        license_url=card_url(path),
        license_source="mteb 2.26.24 task metadata (its license field)",
        reference=f"mteb task {name}",
    )


def _chem(name: str, type_: str, path: str, revision: str) -> PublicTaskInfo:
    return _m(name, type_, path, revision, "cc-by-nc-sa-4.0", "chemteb", "chemistry")


def _med(name: str, type_: str, path: str, revision: str, license_: str) -> PublicTaskInfo:
    return _m(name, type_, path, revision, license_, "mteb-medical", "medical")


#: mteb.get_benchmark("ChemTEB") in mteb 2.26.24, in benchmark order.
CHEMTEB: list[PublicTaskInfo] = [
    _chem("PubChemSMILESBitextMining", "BitextMining", "BASF-AI/PubChemSMILESBitextMining", "36700ea628118312ebf2f90ad2353a9a8f188dc9"),
    _chem("SDSEyeProtectionClassification", "Classification", "BASF-AI/SDSEyeProtectionClassification", "35cbe5ee544dd26e343238a333de4568e6f77819"),
    _chem("SDSGlovesClassification", "Classification", "BASF-AI/SDSGlovesClassification", "c723236c5ec417d79512e6104aca9d2cd88168f6"),
    _chem("WikipediaBioMetChemClassification", "Classification", "BASF-AI/WikipediaEasy2GeneExpressionVsMetallurgyClassification", "6ac491e5de9070c6dd434b31e76d3d379123dcff"),
    _chem("WikipediaGreenhouseEnantiopureClassification", "Classification", "BASF-AI/WikipediaEasy2GreenhouseVsEnantiopureClassification", "0cfc1a83b6ed832454e8f4f93f7a0e26208274d9"),
    _chem("WikipediaSolidStateColloidalClassification", "Classification", "BASF-AI/WikipediaEasy2SolidStateVsColloidalClassification", "7d8df44e588b6143d4856c781f72f919fa0599a7"),
    _chem("WikipediaOrganicInorganicClassification", "Classification", "BASF-AI/WikipediaEasy2SpecialClassification", "96d1d9b37c4693f74c46c83d63a290573f78d511"),
    _chem("WikipediaCryobiologySeparationClassification", "Classification", "BASF-AI/WikipediaEasy5Classification", "858633e882dadd1ec6a0d220f7549bcafd379236"),
    _chem("WikipediaChemistryTopicsClassification", "Classification", "BASF-AI/WikipediaEasy10Classification", "d8fb355db2248f95df8ea410a43aa1db1ee96ba4"),
    _chem("WikipediaTheoreticalAppliedClassification", "Classification", "BASF-AI/WikipediaEZ2Classification", "7896906653d31d7102a143d7f55d67cd688e3147"),
    _chem("WikipediaChemFieldsClassification", "Classification", "BASF-AI/WikipediaEZ10Classification", "a75fae77759acc115f015f2b856baa47776d733d"),
    _chem("WikipediaLuminescenceClassification", "Classification", "BASF-AI/WikipediaHard2BioluminescenceVsLuminescenceClassification", "21c4dcebe2c5b36a35292e6441e7a10b59bf4896"),
    _chem("WikipediaIsotopesFissionClassification", "Classification", "BASF-AI/WikipediaHard2IsotopesVsFissionProductsNuclearFissionClassification", "897743346c7c794264f7dbfadc3978aa2895e8e2"),
    _chem("WikipediaSaltsSemiconductorsClassification", "Classification", "BASF-AI/WikipediaHard2SaltsVsSemiconductorMaterialsClassification", "9e5415a096012fa2d1f3a929952cf9859e4550e7"),
    _chem("WikipediaBiolumNeurochemClassification", "Classification", "BASF-AI/WikipediaMedium2BioluminescenceVsNeurochemistryClassification", "2f68b7d34c2be896e46b14533573b366e59e5aae"),
    _chem("WikipediaCrystallographyAnalyticalClassification", "Classification", "BASF-AI/WikipediaMedium2CrystallographyVsChromatographyTitrationpHClassification", "740565a6a853aaed1114a13bdfd5fd46857b4f11"),
    _chem("WikipediaCompChemSpectroscopyClassification", "Classification", "BASF-AI/WikipediaMedium2ComputationalVsSpectroscopistsClassification", "474d706a22b0451b5846d623aa4b4234ba5b0513"),
    _chem("WikipediaChemEngSpecialtiesClassification", "Classification", "BASF-AI/WikipediaMedium5Classification", "f81a76a2fb690e5d5bd7a26dd07e85cdf8405dfb"),
    _chem("WikipediaChemistryTopicsClustering", "Clustering", "BASF-AI/WikipediaEasy10Clustering", "0a0886b06acbfc735bca6a71b21ce1e5cb92a37b"),
    _chem("WikipediaSpecialtiesInChemistryClustering", "Clustering", "BASF-AI/WikipediaMedium5Clustering", "7754d8d296f9f4c3af1c6426fab36304730ccddf"),
    _chem("PubChemAISentenceParaphrasePC", "PairClassification", "BASF-AI/PubChemAISentenceParaphrasePC", "f33a205966ce032f957c3a22f4f9e378f89a2c56"),
    _chem("PubChemSMILESPC", "PairClassification", "BASF-AI/PubChemSMILESPairClassification", "7ba40b69f5fe6ffe4cc189aac9e1710913c73c8a"),
    _chem("PubChemSynonymPC", "PairClassification", "BASF-AI/PubChemSynonymPC", "5037d69d177c9628fb79cb57eea1299178b28c1b"),
    _chem("PubChemWikiParagraphsPC", "PairClassification", "BASF-AI/PubChemWikiParagraphsPC", "7fb14716e4106b72f51a16e682e5cd2d67e9bd70"),
    _chem("PubChemWikiPairClassification", "PairClassification", "BASF-AI/PubChemWikiMultilingualPC", "3412b208896a37e4ebb5ff7b96f6cc313ee9d2e3"),
    _chem("ChemNQRetrieval", "Retrieval", "BASF-AI/ChemNQRetrieval", "5d958fb6b31055495347724d46431ba41309b03a"),
    _chem("ChemHotpotQARetrieval", "Retrieval", "BASF-AI/ChemHotpotQARetrieval", "1840e8a5ac6ec752bbdd97d543ead0189bc7c25b"),
]

#: mteb.get_benchmark("MTEB(Medical, v1)") in mteb 2.26.24, in benchmark order.
MTEB_MEDICAL: list[PublicTaskInfo] = [
    _med("CUREv1", "Retrieval", "clinia/CUREv1", "3bcf51c91e04d04a8a3329dfbe988b964c5cbe83", "cc-by-nc-4.0"),
    _med("NFCorpus", "Retrieval", "mteb/nfcorpus", "ec0fa4fe99da2ff19ca1214b7966684033a58814", "not specified"),
    _med("TRECCOVID", "Retrieval", "mteb/trec-covid", "bb9466bac8153a0349341eb1b22e06409e78ef4e", "not specified"),
    _med("TRECCOVID-PL", "Retrieval", "mteb/TRECCOVID-PL", "1e710582482d4199ff690e5dd2491a70627523f5", "not specified"),
    _med("SciFact", "Retrieval", "mteb/scifact", "d56462d0e63a25450459c4f213e49ffdb866f7f9", "cc-by-nc-4.0"),
    _med("SciFact-PL", "Retrieval", "mteb/SciFact-PL", "d9707265734052a21d5892b6300ca11028fa067b", "cc-by-sa-4.0"),
    _med("MedicalQARetrieval", "Retrieval", "mteb/medical_qa", "ae763399273d8b20506b80cf6f6f9a31a6a2b238", "cc0-1.0"),
    _med("PublicHealthQA", "Retrieval", "xhluca/publichealth-qa", "main", "cc-by-nc-sa-3.0"),
    _med("MedrxivClusteringP2P.v2", "Clustering", "mteb/medrxiv-clustering-p2p", "e7a26af6f3ae46b30dde8737f02c07b1505bcc73", "https://www.medrxiv.org/content/about-medrxiv"),
    _med("MedrxivClusteringS2S.v2", "Clustering", "mteb/medrxiv-clustering-s2s", "35191c8c0dca72d8ff3efcd72aa802307d469663", "https://www.medrxiv.org/content/about-medrxiv"),
    _med("CmedqaRetrieval", "Retrieval", "mteb/CmedqaRetrieval", "c476f85bf03d6642ec66bf54b9a551c88108bbb4", "not specified"),
    _med("CMedQAv2-reranking", "Reranking", "mteb/CMedQAv2-reranking", "01399b6956a4c6bf9edc5b6b90e176aeeb399686", "not specified"),
]

_SENT = {"sentence": "text"}
_PAIR = {"sent1": "sentence1", "sent2": "sentence2"}
_RANGE01 = {"min_score": 0, "max_score": 1}


def _fin(
    name: str,
    type_: str,
    repo: str,
    revision: str,
    splits: list[str],
    main_score: str = "",
    renames: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    reference: str = "",
    note: str = "",
) -> PublicTaskInfo:
    return PublicTaskInfo(
        name=name,
        benchmark="finmteb",
        domain="finance",
        type=TaskType.parse(type_),
        path=f"FinanceMTEB/{repo}",
        revision=revision,
        loader="hf",
        eval_splits=splits,
        main_score=main_score,
        # FinMTEB's task metadata records no licence and the cards could not be read offline.
        license="unknown",
        license_url=card_url(f"FinanceMTEB/{repo}"),
        license_source="not recorded in FinMTEB's task metadata (47ee4ad); read the dataset card",
        reference=reference,
        renames=renames or {},
        params=params or {},
        revision_verified=True,
        note=note,
    )


_TEST, _TRAIN = ["test"], ["train"]

#: FinMTEB English tasks (64 datasets in all; these are the English ones) as pinned upstream.
#: Main scores use mteb 2 key names: FinMTEB's reranking "map" is MAP over each query's
#: candidates (= map_at_1000 here) and its pair-classification "ap" is the max over similarity
#: functions (= max_ap).
FINMTEB: list[PublicTaskInfo] = [
    # Classification (FinMTEB scores accuracy on the listed split with mteb's logistic-regression protocol).
    _fin("ESGClassification", "Classification", "ESG", "521d56feabadda80b11d6adcc6b335d4c5ad8285", _TEST),
    _fin("FLSClassification", "Classification", "FLS", "39b6719f1d7197df4498fea9fce20d4ad782a083", _TEST),
    _fin("FOMCClassification", "Classification", "FOMC", "cdaf1306a24bc5e7441c7c871343efdf4c721bc2", _TEST, renames=_SENT),
    _fin("FiQAClassification", "Classification", "FiQA_ABSA", "afa907ab4c6441afb8ee70bd99802bb707d3d2ab", _TEST),
    _fin("FinSentClassification", "Classification", "FinSent", "68ee0f0abf596e371ef6a308f685071e3b737bbb", _TEST),
    _fin("FinancialFraudClassification", "Classification", "FinancialFraud", "e569a69e058ad8504f03556cd05c36700767d193", _TEST, renames=_SENT),
    _fin("FinancialPhraseBankClassification", "Classification", "financial_phrasebank", "14efe6ac2635395e768682e0b91ce794b50c7ff3", _TRAIN),
    _fin("SemEva2017Classification", "Classification", "SemEva2017_Headline", "f0e198ba04c23d949ef803ce32ee1e4f2d8d3696", _TEST, renames=_SENT),
    # Clustering: rows are cluster sets (sentences: list, labels: list), flattened here;
    # params["cluster_set_sizes"] keeps the set boundaries so an evaluator can average per set as FinMTEB does.
    _fin("ComplaintsClustering", "Clustering", "Complaints", "6704122294b7693f5e544cdde1e4a3e80b291b76", _TEST),
    _fin("FinanceArxivP2PClustering", "Clustering", "FinanceArxiv-p2p", "5cc8768f04d39e9a16b84fc236dec93d8b173b64", _TEST),
    _fin("FinanceArxivS2SClustering", "Clustering", "FinanceArxiv-s2s", "78f66d3bbea9b1d7f11df84bc55b21b24302dcee", _TEST),
    _fin("MInDS14EnClustering", "Clustering", "MInDS-14-en", "141ac6a9010b851452a9327edfda190d37399b15", _TEST),
    _fin("PiiClustering", "Clustering", "synthetic_pii_finance_en", "5021671d60a324d576a7b57e4c4e13bfcf857a4d", _TEST),
    _fin("WikiCompany2IndustryClustering", "Clustering", "WikiCompany2Industry-en", "9b7c45122b764fc1e09c5b29cee887cfa4f8f395", _TEST),
    # Pair classification.
    _fin(
        "HeadlineACPairClassification", "PairClassification", "HeadlinePDU-PairClassification",
        "afa5a612a01b9c0a8058fba44a3bdf66173583eb", _TEST, "max_ap", _PAIR,
        note="upstream points HeadlineAC at the HeadlinePDU dataset and revision; kept as published",
    ),
    _fin("HeadlinePDDPairClassification", "PairClassification", "HeadlinePDD-PairClassification", "ad0150ed63940e88846659e46be5138aa0db6c85", _TEST, "max_ap", _PAIR),
    _fin("HeadlinePDUPairClassification", "PairClassification", "HeadlinePDU-PairClassification", "afa5a612a01b9c0a8058fba44a3bdf66173583eb", _TEST, "max_ap", _PAIR),
    # Reranking (query / positive / negative rows).
    _fin("FiQA2018Reranking", "Reranking", "FiQA-reranking", "f6934c7980c19a3acb8aeba3b66b4766fbb4b9db", _TEST, "map_at_1000"),
    _fin("FinFactReranking", "Reranking", "FinFact-reranking", "70435b4984c687051ecf38b9d2686f33345dcced", _TEST, "map_at_1000"),
    _fin("HC3Reranking", "Reranking", "HPC3-reranking", "538a43bb89e86fd40a8d1b9c7e630f8c3aa67a6c", _TEST, "map_at_1000"),
    # Retrieval (BEIR layout on the hub: corpus / queries configs + qrels in the default config).
    _fin("Apple10KRetrieval", "Retrieval", "Apple-10K-2022", "27d0b84029e5de607fc7a8e2fb2a315e9b71f570", _TRAIN),
    _fin("FiQA2018Retrieval", "Retrieval", "FiQA", "d52555df9c5c856a01931c112e03eaa0f2d8d6d4", _TRAIN),
    _fin("FinQARetrieval", "Retrieval", "FinQA", "1d4500eefb223c2977187649928561e14108042a", _TRAIN),
    _fin("FinanceBenchRetrieval", "Retrieval", "FinanceBench", "4738010357e3dda4b337abbde86d5b36c3118c8f", _TRAIN),
    _fin("HC3Retrieval", "Retrieval", "HPC3-finance", "7018353fb281b866e5934eeb496251be4ad3585f", _TRAIN),
    _fin("TATQARetrieval", "Retrieval", "TATQA", "11b15221dd850044dc2261ce633e692851c8b7e2", _TRAIN),
    _fin("TheGoldmanEnRetrieval", "Retrieval", "TheGoldmanEncyclopedia-en", "c33ce9ced2224b9c6d9e425196edc36f53400ec1", _TRAIN),
    _fin("TradeTheEventEncyclopediaRetrieval", "Retrieval", "TradeTheEventEncyclopedia", "7fa70ba6624011d65a311df86193b4b5587969bc", _TRAIN),
    _fin("TradeTheEventNewsRetrieval", "Retrieval", "TradeTheEventNews", "9d499d833355b8ef1810073e5f2aa174d743d4d0", _TRAIN),
    _fin("USNewsRetrieval", "Retrieval", "USnews", "dda970333494c509262e91d2b44d43430e985b3c", _TRAIN),
    # STS (scores in [0, 1]).
    _fin("FINAL", "STS", "Final", "00506d0f1853ebe9fcc5112fb36a4cc4cc521695", _TEST, params=_RANGE01),
    _fin("FinSTS", "STS", "FinSTS", "09e270b1afe87a65dd41c6292e3c8905220bc290", _TEST, params=_RANGE01),
    # Summarization: FinMTEB scores Spearman between cos(text, summary) and the human score.
    _fin("Ectsum", "FinSummarization", "ECTsum", "036a3cbc49ce9e77af1832693a32bfdf6207bb57", _TEST, params=_RANGE01),
    _fin("FINDsum", "FinSummarization", "FINDsum", "0ca87ef0286fc1451841761a684548dc1ca36070", _TEST, params=_RANGE01),
    _fin("FNS2022sum", "FinSummarization", "FNS", "3a6eaec26efc16f5668d0c1511b4309152998466", _TEST, params=_RANGE01),
]

ALL_PUBLIC: list[PublicTaskInfo] = FINMTEB + CHEMTEB + MTEB_MEDICAL

#: the mteb benchmark each mteb-backed benchmark mirrors.
MTEB_BENCHMARKS: dict[str, str] = {"chemteb": "ChemTEB", "mteb-medical": "MTEB(Medical, v1)"}


def public_task_info(name: str) -> PublicTaskInfo:
    for info in ALL_PUBLIC:
        if info.name == name:
            return info
    from domainteb.core.errors import DomainTebError

    raise DomainTebError(f"{name!r} is not a public benchmark task")
