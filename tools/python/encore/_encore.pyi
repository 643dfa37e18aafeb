# Type stubs of encore's C++ module (the encore package re-exports Model, Session, describe_cpu).
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

__version__: str

Texts = Union[str, Sequence[str]]
IntArray = npt.ArrayLike

def describe_cpu() -> Dict[str, Any]: ...
def _register_errors(classes: Dict[str, type]) -> None: ...
def _convert(model_dir: str, output: str, quant: str, calib: str, calib_mask: str, calib_text: str,
             calibration: str, quality_gate: bool, max_cosine_drop: float, threads: int, head: str,
             calib_sequences: int, calib_length: int, prune_heads: str, max_accuracy_drop: float,
             prune_ffn: Union[None, str, float], eval: str, eval_labels: str, eval_mask: str, heldout: str,
             heldout_labels: str, heldout_mask: str, progress: bool) -> Tuple[str, List[str], Optional[Dict[str, Any]]]: ...

class Model:
    """A loaded .encore file: immutable, shared by any number of sessions and threads."""

    def __init__(self, path: str) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def config(self) -> Dict[str, Any]:
        """Hugging Face config names: family, hidden_size, num_attention_heads, num_hidden_layers,
        intermediate_size, hidden_act, vocab_size, max_position_embeddings, head, labels, ..."""
    @property
    def family(self) -> str:
        """'bert', 'distilbert', 'roberta' (also XLM-R, CamemBERT) or 'electra'."""
    @property
    def head(self) -> str:
        """'pooled' (base model or sequence classifier), 'token-classification',
        'question-answering' or 'fill-mask'."""
    @property
    def problem_type(self) -> Optional[str]: ...
    @property
    def precision(self) -> str:
        """'int8' or 'f32' (the linear layers)."""
    @property
    def labels(self) -> List[str]: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def sentence_dimension(self) -> Optional[int]:
        """The sentence-transformers embedding width; None for a plain encoder."""
    @property
    def prompts(self) -> Dict[str, str]: ...
    @property
    def default_prompt_name(self) -> Optional[str]: ...
    @property
    def similarity_fn_name(self) -> Optional[str]: ...
    @property
    def max_length(self) -> int:
        """The longest input in tokens, special tokens included."""
    @property
    def tokenizer(self) -> Optional[Dict[str, Any]]: ...
    @property
    def metadata(self) -> Dict[str, str]: ...
    @property
    def file_size(self) -> int: ...
    def tokenize(self, texts: Texts, pairs: Optional[Texts] = None, max_length: int = 0,
                 truncation: str = "longest_first", special_tokens_as_text: bool = False) -> Dict[str, Any]:
        """The padded batch as the model runs it: input_ids, attention_mask (and token_type_ids)
        int32 [n, longest]; per text its tokens, (start, end) character offsets into the text
        its token came from, sequence_ids (0, 1, None for special tokens) and truncated."""
    def session(self, threads: int = 1, profile: bool = False, max_activation_bytes: int = 0,
                int8_gemm: str = "auto", max_length: int = 0, truncation: str = "longest_first",
                special_tokens_as_text: bool = False) -> Session: ...

class Session:
    """Runs a Model. One thread at a time per Session (concurrent calls wait); one Session per
    thread for parallel work. Every call releases the GIL while it computes."""

    @property
    def model(self) -> Model: ...
    @property
    def activation_bytes(self) -> int: ...
    def run(self, input_ids: IntArray, attention_mask: Optional[IntArray] = None,
            token_type_ids: Optional[IntArray] = None) -> Dict[str, np.ndarray]:
        """Token ids [batch, seq_len] (or [seq_len]) of any integer dtype; C-contiguous int32 is
        read in place, others are narrowed (checked) into a reused buffer. Returns new float32
        arrays: last_hidden_state, and what the model has of pooler_output, logits (sequence
        [batch, labels] or per-token [batch, seq_len, width]), start_logits / end_logits,
        sentence_embedding."""
    @overload
    def encode(self, texts: str, batch_size: int = 32, normalize: Optional[bool] = None,
               pooling: Optional[str] = None, dimensions: Optional[int] = None) -> np.ndarray: ...
    @overload
    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: Optional[bool] = None,
               pooling: Optional[str] = None, dimensions: Optional[int] = None) -> np.ndarray: ...
    def classify(self, texts: Texts, pairs: Optional[Texts] = None, batch_size: int = 32) -> Any:
        """Per text: label, score, index, probabilities, logits, ids, tokens, offsets, truncated
        (a dict for one str, a list of them for a sequence)."""
    def classify_tokens(self, texts: Texts) -> Any:
        """Per text, its entities: entity_group, score, word, start, end (characters)."""
    def answer(self, question: str, context: str, top_k: int = 1, max_answer_len: int = 15, max_seq_len: int = 0,
               doc_stride: Optional[int] = None, handle_impossible_answer: bool = False,
               align_to_words: bool = True) -> Any:
        """score, start, end (characters), answer: a dict for top_k=1, else a list."""
    def fill_mask(self, texts: Texts, top_k: int = 5) -> Any:
        """Per mask: score, token (id), token_str, sequence; a text with one mask gives its list."""
    def profile(self) -> List[Dict[str, Any]]:
        """The last call's steps (with profile=True): layer, step, kernel, start_ns, duration_ns,
        operations, bytes, linear."""
