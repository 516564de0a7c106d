/**
 * Old home of the HTTP test helpers, kept only so that tests written before the testing entries compile: import
 * from src/http/testing.ts and ./captureConsole.ts instead. To be deleted once no test uses it.
 */
export { body, type Captured, capturingContext, get, header } from '../../src/http/testing.js';
export { captureConsole } from './captureConsole.js';
