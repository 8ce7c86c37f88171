// `tsbuild tag SOURCE TARGET`: one more index entry for the same manifest (no copy).
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, entryDescriptor, tagReference } from "../../image/store.js";

export async function runTag(root: string, source: string, target: string): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  tagReference(target); // a bad target fails before anything is looked up or changed
  const rec = await store.resolveImage(source);
  await store.tag(target, entryDescriptor(rec)); // a multi-platform image: its index
}
