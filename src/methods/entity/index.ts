import { ENTITIES } from '../../entities/descriptors.js';
import type { MethodDefinition } from '../../rpc/registry.js';
import { addMethod } from './add.js';
import { deleteMethod } from './delete.js';
import { getInfoMethod } from './get-info.js';
import { getListMethod } from './get-list.js';
import { reset2faKeyMethod } from './reset-2fa-key.js';
import { updateMethod } from './update.js';

/** The admin API of every entity, from one generic implementation per operation. */
export function entityMethods(): MethodDefinition<never, unknown>[] {
  return ENTITIES.flatMap((d) => {
    const methods: MethodDefinition<never, unknown>[] = [
      addMethod(d),
      getInfoMethod(d),
      updateMethod(d),
      getListMethod(d),
      deleteMethod(d),
    ] as MethodDefinition<never, unknown>[];
    if (d.realm) methods.push(reset2faKeyMethod({ ...d, realm: d.realm }) as MethodDefinition<never, unknown>);
    return methods;
  });
}
