"""Questions over the real documents in ``../shared/data/docs`` and what each answer must say.

Every case names the facts that an answer from the default server must carry: all of
them, compared case-insensitively with whitespace normalised and citations removed ("a|b"
is said by either wording).
The off-topic questions are everyday ones that the same material must not answer.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The documents the cases are about (the ones any loader reads; PDFs without a text
#: layer and the DOCX with tables only are left out: they have nothing to ask about).
DOCUMENTS = (
    "md_ocrmypdf_cookbook.md",
    "txt_cc_by_sa_4_0_legalcode.txt",
    "md_statemachine_tutorial.md",
    "md_xquad_readme_tables.md",
    "md_aiohttp_threat_model.md",
    "md_zh_ocrmypdf_readme.md",
    "html_aiohttp_websocket_example.html",
    "html_aiogram_webapp_demo.html",
    "docx_blk-paras-and-tables.docx",
    "docx_par-hyperlinks.docx",
    "docx_hdr-header-footer.docx",
    "docx_comments-rich-para.docx",
)


@dataclass(frozen=True, slots=True)
class Case:
    """A question and the facts its answer must contain."""

    question: str
    facts: tuple[str, ...]

    def __str__(self) -> str:
        return self.question


CASES = (
    # OCRmyPDF cookbook: commands under how-to headings, and prose around them
    Case("How do I remove the OCR text layer from a PDF?", ("--mode strip",)),
    Case("How can I correct the rotation of scanned pages?", ("--rotate-pages",)),
    Case("How do I OCR a document in French?", ("-l fra",)),
    Case("How do I get a text file with the OCR text next to the PDF?", ("--sidecar",)),
    Case("How do I output a standard PDF instead of PDF/A?", ("--output-type pdf",)),
    Case("How can I shrink JPEG images in the output?", ("--jpeg-quality",)),
    Case("How do I OCR only some pages of a document?", ("--pages",)),
    Case("Can OCRmyPDF detect the language of a document automatically?", ("no ability",)),
    Case("Which option fixes a page that is just a little crooked?", ("--deskew",)),
    Case("How do I redo OCR on a file that was already OCRed?", ("--redo-ocr",)),
    Case("What does the --clean option use to clean up pages?", ("unpaper",)),
    Case("How do I pick the rasterizer OCRmyPDF uses?", ("--rasterizer",)),
    Case("Why would I want to strip the OCR layer?", ("useful results",)),
    # CC BY-SA 4.0 legal code
    Case("If I break the licence, how are my rights reinstated?", ("30 days",)),
    Case("How long does this Public License apply?", ("term of the Copyright",)),
    Case("What happens to my rights if I fail to comply with the license?", ("terminate",)),
    Case("Which sections survive termination of the license?", ("1, 5, 6, 7, and 8",)),
    Case("What does Adapter's License mean?", ("license You apply",)),
    Case("Is the licensor liable for damages?", ("in no event",)),
    Case("What licenses can I apply to adapted material I share?", ("Creative Commons",)),
    # python-statemachine tutorial
    Case("How do I call an event as a method on a state machine?", ("order.start()",)),
    Case("What are guards in a state machine?", ("conditions",)),
    Case("What are listeners used for?", ("react to state changes",)),
    Case(
        "How do I generate a diagram of a state machine from the command line?",
        ("statemachine.contrib.diagram",),
    ),
    Case("Which text formats does format() support?", ("mermaid",)),
    Case("What does Graphviz diagram generation require?", ("Graphviz",)),
    Case("When should I use sm.send with the event name?", ("dynamic",)),
    Case("What does a state machine without side effects amount to?", ("diagram",)),
    # XQuAD README
    Case("What is XQuAD?", ("cross-lingual question answering",)),
    Case("How many question-answer pairs does XQuAD contain?", ("1190",)),
    Case("How many paragraphs are in XQuAD?", ("240",)),
    Case("What is the file name of the Arabic XQuAD data?", ("xquad.ar.json",)),
    Case("Which script is used to evaluate on XQuAD?", ("evaluate-v1.1.py",)),
    Case("Why are there no unanswerable questions in XQuAD?", ("SQuAD v1.1",)),
    Case("What tokenizer was used for Chinese statistics?", ("Jieba",)),
    Case("What should models be trained on to evaluate on XQuAD?", ("training file",)),
    # aiohttp threat model
    Case("What methodology does the aiohttp threat model use?", ("STRIDE",)),
    Case("What is aiohttp?", ("HTTP client/server framework",)),
    Case("Which version of llhttp is vendored?", ("9.3.1",)),
    Case("How are header values decoded by the HTTP parser?", ("surrogateescape",)),
    Case("How are risks ranked in the threat model?", ("likelihood",)),
    # Chinese OCRmyPDF README
    Case("OCRmyPDF 支持多少种语言？", ("100",)),
    # HTML pages and DOCX files
    Case("Which text in the comments document is worthy of note?", ("worthy of note",)),
    Case("Which links does the web app demo page test?", ("link",)),
    Case("What does the hyperlinks document say about three hyperlinks?", ("three hyperlinks",)),
)

#: Everyday questions the documents above must not be made to answer.
OFF_TOPIC = (
    "How do I remove a red wine stain?",
    "What is the best recipe for banana bread?",
    "Who won the football world cup in 2018?",
    "How often should I water a cactus?",
    "What's the weather like in Paris tomorrow?",
    "Can you recommend a good science fiction novel?",
    "How do I change a flat tyre on my bike?",
    "What is the capital of Australia?",
)
