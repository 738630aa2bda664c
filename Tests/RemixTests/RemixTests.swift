import Remix
import Testing
