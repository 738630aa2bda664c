import Testing
import Watermark
